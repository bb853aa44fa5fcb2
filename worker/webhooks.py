"""The webhook sender of a worker's main process: the outbox dispatcher, with jobs rendered as the API shows them."""

import logging
from typing import Any

from celery.signals import worker_shutdown
from sqlalchemy.orm import Session

from api.schemas.jobs import JobOut
from services.db.models import Job
from services.jobs.queries import job_artifacts
from services.settings import get_settings
from services.webhooks.dispatcher import Dispatcher


def render_job(session: Session, job: Job) -> dict[str, Any]:
    """The job exactly as GET /v1/jobs/{id} returns it."""
    return JobOut.of(job, job_artifacts(session, [job.id])[job.id]).model_dump(mode="json")


def start_webhook_dispatcher() -> None:
    """Send due webhook deliveries until the worker exits; every worker runs one, safely."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every POST, whose URL may carry the receiver's token
    dispatcher = Dispatcher(render_job, get_settings()).start()
    # It claims nothing more once the worker stops; a send in flight ends within its timeout before the process
    # exits, and one cut short (a killed worker) is retried by another worker when its claim runs out.
    worker_shutdown.connect(lambda **_: dispatcher.stop(wait=False), weak=False)
