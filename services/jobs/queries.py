"""Reading jobs: newest first with an opaque cursor, and a job's artifacts."""

import base64
import json
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from services.access import readable
from services.db.models import Artifact, Job
from services.errors import InputError


def encode_cursor(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), str(job_id)
    except (ValueError, TypeError) as error:
        raise InputError("cursor", "not a cursor this API returned") from error


def list_jobs(
    session: Session, owner: str, *, status: str | None = None, kind: str | None = None,
    cursor: str | None = None, limit: int = 50,
) -> tuple[list[Job], str | None]:
    """A page of the owner's jobs, newest first, and the cursor of the next page (None at the end)."""
    query = readable(Job, owner)
    if status:
        query = query.where(Job.status == status)
    if kind:
        query = query.where(Job.kind == kind)
    if cursor:
        created, job_id = decode_cursor(cursor)
        query = query.where(or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id)))
    rows = list(session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    return page, encode_cursor(page[-1]) if len(rows) > limit else None


def job_artifacts(session: Session, job_ids: list[str]) -> dict[str, list[Artifact]]:
    """The artifacts of each job, in the order they were written."""
    found: dict[str, list[Artifact]] = {job_id: [] for job_id in job_ids}
    if job_ids:
        query = select(Artifact).where(Artifact.job_id.in_(job_ids)).order_by(Artifact.created_at, Artifact.path)
        for artifact in session.scalars(query):
            found[artifact.job_id].append(artifact)
    return found
