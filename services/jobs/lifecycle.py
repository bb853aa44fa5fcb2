"""Every change of a job's status, each a compare-and-set on (id, status[, attempt])."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.db.models import Artifact, Job, Model, utcnow
from services.jobs.states import FINAL_STATES, JobKind, JobStatus, check_transition
from services.webhooks.outbox import record_event, record_transition


def _set_status(
    session: Session, job_id: str, expected: JobStatus, target: JobStatus, *, attempt: int | None = None, **values: Any
) -> bool:
    """Move the job from ``expected`` to ``target`` if it is still there; False when another writer won."""
    check_transition(expected, target)
    stmt = update(Job).where(Job.id == job_id, Job.status == expected)
    if attempt is not None:  # fencing: a worker whose lease was taken over cannot finish the job
        stmt = stmt.where(Job.attempts == attempt)
    result = session.execute(stmt.values(status=target, **values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    record_transition(session, job_id, target)  # the job's webhook event, committed with the change
    return True


def create_job(session: Session, *, owner: str, kind: JobKind, input: dict[str, Any]) -> Job:
    """A new queued job; the caller commits, then enqueues."""
    job = Job(owner=owner, kind=kind, status=JobStatus.QUEUED, input=input, progress={}, attempts=0)
    session.add(job)
    session.flush()
    return job


def mark_enqueued(session: Session, job_id: str) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(enqueued_at=utcnow()))


class ClaimResult(Enum):
    CLAIMED = "claimed"
    BUSY = "busy"  # running under a live lease elsewhere; if that worker dies, recovery queues it again
    GONE = "gone"  # finished, canceled, unknown, or out of attempts: nothing to do


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    job: Job | None = None


def time_limit_of(job: Job, default: float | None) -> float | None:
    """Seconds one run of the job may take: its own limit, else the server's default."""
    return (job.input or {}).get("time_limit_seconds") or default


def overdue(job: Job, time_limit: float | None, now: datetime, grace: float = 0.0) -> bool:
    """The current run started more than ``time_limit`` (+ ``grace``) seconds ago."""
    return bool(time_limit and job.started_at and job.started_at + timedelta(seconds=time_limit + grace) <= now)


def fail_overdue(session: Session, job: Job, time_limit: float) -> bool:
    """A run past its time limit whose worker did not stop it (hung, or killed) fails with ``timeout``."""
    return fail(session, job.id, job.attempts, "timeout",
                f"the run took longer than the job's time limit of {time_limit:g} s (time_limit_seconds) and its "
                "worker did not stop it")


def requeue_lost(session: Session, job: Job, max_attempts: int, *, default_time_limit: float | None = None) -> bool:
    """A running job whose worker was lost goes back to queued; it fails instead when it is out of attempts
    (hand-backs of stopping workers do not count) or the lost run was already past its time limit."""
    time_limit = time_limit_of(job, default_time_limit)
    if time_limit and overdue(job, time_limit, utcnow()):
        fail_overdue(session, job, time_limit)
        return False
    if not _set_status(session, job.id, JobStatus.RUNNING, JobStatus.QUEUED, attempt=job.attempts,
                       worker=None, enqueued_at=None):
        return False
    lost = job.attempts - job.handbacks
    if lost >= max_attempts:
        _set_status(
            session, job.id, JobStatus.QUEUED, JobStatus.FAILED,
            error_type="worker_lost",
            error_message=f"the job's worker was lost {lost} times; giving up after {max_attempts} attempts",
            finished_at=utcnow(),
        )
        return False
    return True


def _with_progress(progress: dict[str, Any] | None) -> dict[str, Any]:
    """The run's last progress, which the throttled writer may not have stored yet."""
    return {"progress": progress} if progress else {}


def hand_back(session: Session, job_id: str, attempt: int, progress: dict[str, Any] | None = None) -> bool:
    """A stopping worker gives its running job back to the queue; this attempt does not count as lost."""
    return _set_status(session, job_id, JobStatus.RUNNING, JobStatus.QUEUED, attempt=attempt, worker=None,
                       enqueued_at=None, release_requested=False, handbacks=Job.handbacks + 1,
                       **_with_progress(progress))


def request_release(session: Session, worker: str) -> list[str]:
    """Ask every job running on ``worker`` to stop at its next step and go back to the queue."""
    ids = list(session.scalars(select(Job.id).where(Job.status == JobStatus.RUNNING, Job.worker == worker)))
    if ids:
        session.execute(update(Job).where(Job.id.in_(ids), Job.status == JobStatus.RUNNING)
                        .values(release_requested=True).execution_options(synchronize_session=False))
    return ids


def lease_expired(job: Job, lease_seconds: float, now: datetime) -> bool:
    return (job.heartbeat_at or job.started_at or now) + timedelta(seconds=lease_seconds) <= now


def claim(
    session: Session, job_id: str, *, worker: str, max_attempts: int, lease_seconds: float,
    default_time_limit: float | None = None,
) -> Claim:
    """Take the job for this worker. A duplicate delivery finds nothing to claim."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.status in FINAL_STATES:
        return Claim(ClaimResult.GONE)
    now = utcnow()
    if job.status == JobStatus.RUNNING:
        if not lease_expired(job, lease_seconds, now):
            return Claim(ClaimResult.BUSY)
        if not requeue_lost(session, job, max_attempts, default_time_limit=default_time_limit):
            session.refresh(job)
            return Claim(ClaimResult.GONE if job.status in FINAL_STATES else ClaimResult.BUSY)
    claimed = _set_status(
        session, job_id, JobStatus.QUEUED, JobStatus.RUNNING,
        attempts=Job.attempts + 1, worker=worker, started_at=now, heartbeat_at=now, release_requested=False,
    )
    if not claimed:
        return Claim(ClaimResult.GONE)
    session.refresh(job)
    return Claim(ClaimResult.CLAIMED, job)


class StopRequest(Enum):
    CANCEL = "cancel"  # canceled, or no longer this attempt's: stop and let go
    RELEASE = "release"  # the worker is shutting down: stop and hand the job back to the queue


def record_progress(
    session: Session, job_id: str, attempt: int, progress: dict[str, Any] | None = None
) -> StopRequest | None:
    """Renew the lease (and store progress if given); says whether the run should stop, and why."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.attempts == attempt)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.cancel_requested or job.status != JobStatus.RUNNING or job.attempts != attempt:
        return StopRequest.CANCEL
    if progress is not None:
        record_event(session, job, "progress")
    return StopRequest.RELEASE if job.release_requested else None


def succeed(
    session: Session, job_id: str, attempt: int, artifacts: Sequence[Artifact], *,
    progress: dict[str, Any] | None = None, model: Model | None = None,
) -> bool:
    """Finish the job and record its artifacts (and the model it made) in the same transaction."""
    values: dict[str, Any] = {"finished_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    if model is not None:
        session.add(model)
        session.flush()  # the job row refers to it
        values["model_id"] = model.id
    if not _set_status(session, job_id, JobStatus.RUNNING, JobStatus.SUCCEEDED, attempt=attempt, **values):
        session.rollback()
        return False
    session.add_all(artifacts)
    return True


def fail(
    session: Session, job_id: str, attempt: int, error_type: str, message: str, progress: dict[str, Any] | None = None,
) -> bool:
    return _set_status(
        session, job_id, JobStatus.RUNNING, JobStatus.FAILED, attempt=attempt,
        error_type=error_type, error_message=message[:4000], finished_at=utcnow(), **_with_progress(progress),
    )


def finish_canceled(
    session: Session, job_id: str, attempt: int, artifacts: Sequence[Artifact] = (),
    progress: dict[str, Any] | None = None,
) -> bool:
    """A running job stopped at a cancel request; whatever it kept (e.g. a checkpoint) is recorded."""
    if not _set_status(session, job_id, JobStatus.RUNNING, JobStatus.CANCELED, attempt=attempt, finished_at=utcnow(),
                       **_with_progress(progress)):
        return False
    session.add_all(artifacts)
    return True


class CancelResult(Enum):
    CANCELED = "canceled"  # it was queued and is now canceled
    REQUESTED = "requested"  # it is running and stops at its next step
    ALREADY_FINAL = "already_final"  # nothing changed


def cancel(session: Session, job: Job) -> CancelResult:
    """Cancel a queued job now, ask a running one to stop; idempotent."""
    for _ in range(3):  # the status may move under us; retry against the new one
        session.refresh(job)
        if job.status in FINAL_STATES:
            return CancelResult.ALREADY_FINAL
        if job.status == JobStatus.QUEUED:
            if _set_status(session, job.id, JobStatus.QUEUED, JobStatus.CANCELED, finished_at=utcnow(),
                           cancel_requested=True):
                return CancelResult.CANCELED
            continue
        session.execute(
            update(Job).where(Job.id == job.id, Job.status == JobStatus.RUNNING).values(cancel_requested=True)
        )
        return CancelResult.REQUESTED
    return CancelResult.REQUESTED

