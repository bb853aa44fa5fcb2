"""Recovery driven by the database: jobs whose worker died, and jobs that never reached the broker."""

import logging
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.db.models import Job, utcnow
from services.jobs.dispatch import Publisher
from services.jobs.lifecycle import lease_expired, mark_enqueued, requeue_lost
from services.jobs.states import JobStatus

log = logging.getLogger(__name__)


def recover_jobs(
    session: Session, publish: Publisher, *, lease_seconds: float, max_attempts: int, publish_grace: float = 2.0,
) -> list[str]:
    """Hand back running jobs whose lease ran out and (re)publish queued jobs that have no message.

    Safe to run from every worker at once: each change is a compare-and-set, and a job published twice
    is claimed once.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=lease_seconds)
    stale = session.scalars(
        select(Job).where(Job.status == JobStatus.RUNNING,
                          or_(Job.heartbeat_at < cutoff, Job.heartbeat_at.is_(None)))
    ).all()
    for job in stale:
        if lease_expired(job, lease_seconds, now) and requeue_lost(session, job, max_attempts):
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
