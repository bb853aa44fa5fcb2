"""Recovery driven by the database: jobs whose worker died or hung past its time limit, and jobs that never
reached the broker."""

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db.models import Job, utcnow
from services.jobs.dispatch import Publisher
from services.jobs.lifecycle import fail_overdue, lease_expired, mark_enqueued, overdue, requeue_lost, time_limit_of
from services.jobs.states import JobStatus

log = logging.getLogger(__name__)


def recover_jobs(
    session: Session, publish: Publisher, *, lease_seconds: float, max_attempts: int, publish_grace: float = 2.0,
    default_time_limit: float | None = None,
) -> list[str]:
    """Hand back running jobs whose lease ran out, fail runs stuck past their time limit, and (re)publish queued
    jobs that have no message.

    Safe to run from every worker at once: each change is a compare-and-set, and a job published twice
    is claimed once.
    """
    now = utcnow()
    for job in session.scalars(select(Job).where(Job.status == JobStatus.RUNNING)).all():
        time_limit = time_limit_of(job, default_time_limit)
        if overdue(job, time_limit, now, grace=lease_seconds):
            # The worker checks the limit at every step; one that is still running a lease later is stuck.
            if fail_overdue(session, job, time_limit):
                log.warning("job %s ran past its time limit of %s s; failed", job.id, time_limit)
        elif lease_expired(job, lease_seconds, now) and requeue_lost(
            session, job, max_attempts, default_time_limit=default_time_limit
        ):
            log.warning("job %s lost its worker (attempt %d); queued again", job.id, job.attempts)
    session.commit()
    unpublished = session.scalars(
        select(Job).where(Job.status == JobStatus.QUEUED, Job.enqueued_at.is_(None),
                          Job.created_at < now - timedelta(seconds=publish_grace))
        .order_by(Job.created_at)
    ).all()
    published = []
    for job in unpublished:
        try:
            publish(job)
        except Exception:  # the broker is still down: try again next round
            log.warning("could not publish job %s; will retry", job.id, exc_info=True)
            break
        mark_enqueued(session, job.id)
        session.commit()
        published.append(job.id)
    return published
