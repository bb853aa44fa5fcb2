"""Artifact rows for files a job wrote into the store."""

from pathlib import Path
from typing import Any

from sqlalchemy import select

from services.artifacts import ArtifactStore, media_type_for
from services.db import session_scope
from services.db.models import Artifact, Job


def artifact_for(job: Job, store: ArtifactStore, path: Path, kind: str, **meta: Any) -> Artifact:
    """An (unsaved) row for a file or folder under the store; folders are served as zips."""
    relative = path.resolve().relative_to(store.root.resolve()).as_posix()
    if path.is_dir():
        size, media_type = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()), "application/zip"
    else:
        size, media_type = path.stat().st_size, media_type_for(path)
    return Artifact(owner=job.owner, job_id=job.id, kind=kind, media_type=media_type, path=relative,
                    size_bytes=size, meta=meta)


def record_now(artifact: Artifact) -> str:
    """Record an intermediate artifact (a preview, a training grid) while the job runs; once per path.

    A re-delivered job writes the same paths again, so it refreshes the row instead of adding a second one.
    """
    with session_scope() as session:
        existing = session.scalars(
            select(Artifact).where(Artifact.job_id == artifact.job_id, Artifact.path == artifact.path)
        ).first()
        if existing is not None:
            existing.size_bytes, existing.meta = artifact.size_bytes, artifact.meta
            return existing.id
        session.add(artifact)
        session.flush()
        return artifact.id


def forget_missing(job_id: str, kind: str, store: ArtifactStore) -> None:
    """Drop the job's rows of ``kind`` whose files were removed (e.g. checkpoints pruned to the latest few)."""
    with session_scope() as session:
        for artifact in session.scalars(select(Artifact).where(Artifact.job_id == job_id, Artifact.kind == kind)):
            if not store.resolve(artifact.path).exists():
                session.delete(artifact)
