"""Idempotent submission: the same Idempotency-Key with the same request gives the same job, once.

A client that retries a POST after a timeout cannot tell whether the first one was accepted; with a key it
gets the job the first one created instead of a second job. Keys are per owner and kept with the job.
"""

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.db.models import Job
from services.errors import InputError
from services.jobs.dispatch import Publisher, commit_and_enqueue

HEADER = "Idempotency-Key"


class IdempotencyKeyReused(InputError):
    error_type = "idempotency_key_reused"


def fingerprint(kind: str, request: dict[str, Any]) -> str:
    """A digest of the request as the client sent it (defaults applied, nothing drawn at random yet)."""
    canonical = json.dumps({"kind": kind, "request": request}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_replay(session: Session, owner: str, key: str, digest: str) -> Job | None:
    """The job an earlier request with this key created, if any; a different request under the key is refused."""
    job = session.scalar(select(Job).where(Job.owner == owner, Job.idempotency_key == key))
    if job is not None and job.request_fingerprint != digest:
        raise IdempotencyKeyReused(HEADER, f"this key was already used with a different request (job {job.id}); "
                                   "send a new key for a new request")
    return job


def submit_once(
    session: Session, *, owner: str, key: str | None, kind: str, request: dict[str, Any],
    submit: Callable[[], Job], publish: Publisher,
) -> tuple[Job, bool]:
    """Create, commit and enqueue the job ``submit`` makes, unless ``key`` names one already; (job, replayed)."""
    if key is None:
        return commit_and_enqueue(session, submit(), publish), False
    digest = fingerprint(kind, request)
    earlier = find_replay(session, owner, key, digest)
    if earlier is not None:
        return earlier, True
    job = submit()
    job.idempotency_key, job.request_fingerprint = key, digest
    try:
        session.flush()
    except IntegrityError:  # a concurrent request with the same key won the race: answer with its job
        session.rollback()
        earlier = find_replay(session, owner, key, digest)
        if earlier is None:
            raise
        return earlier, True
    return commit_and_enqueue(session, job, publish), False
