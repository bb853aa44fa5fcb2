"""The outbox: a ``webhook_delivery`` row is written in the transaction of the change it reports, so an event is
never sent for a change that rolled back, nor lost for one that committed. Workers send the rows later."""

from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from services.db.models import Job, WebhookDelivery, utcnow
from services.jobs.states import FINAL_STATES, JobStatus
from services.settings import get_settings

EVENT_TYPES = {"started": "job.started", "progress": "job.progress", "completed": "job.completed"}


def event_for(target: JobStatus) -> str | None:
    """The event a status change is: a run began, or the job ended; going back to the queue is none."""
    if target == JobStatus.RUNNING:
        return "started"
    return "completed" if target in FINAL_STATES else None


def _subscription(session: Session, job: Job | str) -> tuple[str, dict[str, Any]] | None:
    """(owner, webhook) of the job, when it has a webhook."""
    if isinstance(job, Job):
        owner, input = job.owner, job.input
    else:  # only the columns: loading the row would put a stale copy in the caller's session
        row = session.execute(select(Job.owner, Job.input).where(Job.id == job)).one_or_none()
        if row is None:
            return None
        owner, input = row
    webhook = (input or {}).get("webhook")
    return (owner, webhook) if webhook else None


def _progress_is_due(session: Session, job_id: str, interval: float) -> bool:
    """The job's last progress event is ``interval`` old and has been sent (or given up). One still waiting will
    show the progress of when it is sent anyway, so a receiver that is down does not pile up a backlog."""
    latest, waiting = session.execute(
        select(func.max(WebhookDelivery.created_at),
               func.max(case((WebhookDelivery.status == "pending", 1), else_=0)))
        .where(WebhookDelivery.job_id == job_id, WebhookDelivery.event == "progress")
    ).one()
    return latest is None or (not waiting and latest + timedelta(seconds=interval) <= utcnow())


def record_event(session: Session, job: Job | str, event: str) -> WebhookDelivery | None:
    """Add the delivery of ``event`` when the job's webhook subscribed to it (progress: at most one per
    DJ_WEBHOOK_PROGRESS_INTERVAL_SECONDS, and none while one is still to be sent); the caller's transaction
    commits it with the change."""
    subscription = _subscription(session, job)
    if subscription is None:
        return None
    owner, webhook = subscription
    if event not in webhook.get("events", ()):
        return None
    job_id = job.id if isinstance(job, Job) else job
    if event == "progress" and not _progress_is_due(session, job_id, get_settings().webhook_progress_interval_seconds):
        return None
    delivery = WebhookDelivery(job_id=job_id, owner=owner, event=event, url=webhook["url"], status="pending",
                               attempts=0, next_attempt_at=utcnow())
    session.add(delivery)
    return delivery


def record_transition(session: Session, job_id: str, target: JobStatus) -> None:
    """Called by the state machine after each status change it made."""
    event = event_for(target)
    if event is not None:
        record_event(session, job_id, event)
