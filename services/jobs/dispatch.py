"""Hand a committed job to the broker. The publisher is given by the caller; services know no broker."""

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from services.db.models import Job
from services.jobs.lifecycle import mark_enqueued

log = logging.getLogger(__name__)

Publisher = Callable[[Job], None]


def commit_and_enqueue(session: Session, job: Job, publish: Publisher) -> Job:
    """Commit the job first (a worker must find its row), then publish its id and note when that happened."""
    session.commit()
    try:
        publish(job)
    except Exception:  # the row is kept; enqueued_at stays empty so the job can be published again
        log.exception("could not publish job %s to the broker", job.id)
        return job
    mark_enqueued(session, job.id)
    session.commit()
    session.refresh(job)
    return job
