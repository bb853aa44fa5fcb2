"""Run one delivery of a job: claim it, do the work under a heartbeat, record how it ended."""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.artifacts import ArtifactStore
from services.db import session_scope
from services.db.models import Artifact, Job, Model
from services.jobs.lifecycle import (
    Claim, ClaimResult, claim, fail, finish_canceled, hand_back, succeed, time_limit_of,
)
from services.jobs.progress import JobCanceled, JobReleased, ProgressReporter
from services.settings import Settings

log = logging.getLogger(__name__)


class JobError(Exception):
    """A failure the client can act on (bad model files, unreachable hub...), reported with its own type."""

    error_type = "job_error"


@dataclass
class JobContext:
    job: Job
    attempt: int
    reporter: ProgressReporter
    folder: str  # this attempt's folder in the artifact store: removed if the attempt does not succeed


@dataclass
class WorkResult:
    artifacts: Sequence[Artifact]
    model: Model | None = None  # a model the job produced: recorded in the same transaction as its success


Work = Callable[[JobContext], WorkResult]


def error_type_of(error: BaseException) -> str:
    return getattr(error, "error_type", None) or "internal_error"


def run_job(job_id: str, work: Work, *, settings: Settings, store: ArtifactStore, worker: str) -> Claim:
    """Claim and run the job; returns the claim, which says why a delivery ran nothing."""
    with session_scope() as session:
        outcome = claim(
            session, job_id, worker=worker,
            max_attempts=settings.job_max_attempts, lease_seconds=settings.job_lease_seconds,
            default_time_limit=settings.job_time_limit_seconds,
        )
    if outcome.result is not ClaimResult.CLAIMED:
        log.info("job %s not claimed: %s", job_id, outcome.result.value)
        return outcome
    job = outcome.job
    assert job is not None
    attempt = job.attempts
    reporter = ProgressReporter(job.id, attempt, interval=settings.progress_interval_seconds,
                                heartbeat_every=max(settings.job_lease_seconds / 4, 0.05),
                                time_limit=time_limit_of(job, settings.job_time_limit_seconds))
    context = JobContext(job=job, attempt=attempt, reporter=reporter, folder=f"jobs/{job.id}/attempt-{attempt}")
    for earlier in range(1, attempt):  # files of attempts whose worker died before it could clean up
        store.remove(f"jobs/{job.id}/attempt-{earlier}")
    log.info("job %s (%s) attempt %d started on %s", job.id, job.kind, attempt, worker)
    with reporter:
        try:
            result = work(context)
        except JobCanceled:
            store.remove(context.folder)
            with session_scope() as session:
                finish_canceled(session, job.id, attempt, progress=reporter.state)
            log.info("job %s canceled", job.id)
            return outcome
        except JobReleased:
            # A training keeps its checkpoints (they live outside the attempt's folder) and resumes from them.
            store.remove(context.folder)
            with session_scope() as session:
                handed_back = hand_back(session, job.id, attempt, progress=reporter.state)
            log.info("job %s %s", job.id, "handed back to the queue" if handed_back else "released, no longer ours")
            return outcome
        except Exception as error:
            store.remove(context.folder)
            log.exception("job %s failed", job.id)
            with session_scope() as session:
                fail(session, job.id, attempt, error_type_of(error), f"{type(error).__name__}: {error}",
                     progress=reporter.state)
            return outcome
    with session_scope() as session:
        recorded = succeed(session, job.id, attempt, result.artifacts, progress=reporter.state, model=result.model)
    if not recorded:  # canceled or taken over while finishing: these files belong to no job
        store.remove(context.folder)
    log.info("job %s %s", job.id, "succeeded" if recorded else "finished but was no longer ours")
    return outcome
