"""Reading a job's webhook deliveries, through the tenant scoping every read goes through."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access import get_readable
from services.db.models import Job, WebhookDelivery


def job_deliveries(session: Session, job_id: str, owner: str) -> list[WebhookDelivery]:
    """The deliveries of one of ``owner``'s jobs, oldest first; another owner's job is NotFound."""
    job = get_readable(session, Job, job_id, owner)
    return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job.id)
                                .order_by(WebhookDelivery.created_at, WebhookDelivery.id)))
