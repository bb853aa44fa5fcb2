"""The delivery rows as a work queue: claim what is due (a compare-and-set lock, oldest event of a job first),
and record how an attempt went (delivered, retried later with backoff, or given up)."""

import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from services.db.models import WebhookDelivery, utcnow
from services.settings import Settings


@dataclass(frozen=True)
class Outcome:
    """How one attempt went."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    final: bool = False  # retrying cannot help (410 Gone, a refused URL): give up now


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before the attempt after ``attempt``: base·2^(attempt-1) up to ``cap``, with up to 10% jitter so
    receivers that failed together are not retried in lockstep."""
    return min(cap, base * 2 ** (attempt - 1) * (1 + random.uniform(0, 0.1)))


def claim_due(session: Session, limit: int, lock_seconds: float) -> list[str]:
    """Lock up to ``limit`` due deliveries for this sender and count the attempt; commits.

    A job's deliveries go out one at a time, oldest first, so a receiver sees started, progress and completed
    in order; a delivery another sender holds stays its own until the lock runs out.
    """
    now = utcnow()
    earlier = aliased(WebhookDelivery)
    unlocked = or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now)
    waits_for_earlier = exists().where(
        earlier.job_id == WebhookDelivery.job_id, earlier.status == "pending",
        or_(earlier.created_at < WebhookDelivery.created_at,
            and_(earlier.created_at == WebhookDelivery.created_at, earlier.id < WebhookDelivery.id)),
    )
    due = session.scalars(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now, unlocked,
               ~waits_for_earlier)
        .order_by(WebhookDelivery.next_attempt_at).limit(limit)
    ).all()
    claimed = []
    for delivery_id in due:
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending", unlocked)
            .values(locked_until=now + timedelta(seconds=lock_seconds), attempts=WebhookDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(delivery_id)
    session.commit()
    return claimed


def record_outcome(session: Session, delivery_id: str, attempt: int, outcome: Outcome, settings: Settings) -> str:
    """Store the attempt's result and unlock; returns the delivery's new status. Fenced by the attempt number:
    a sender whose lock ran out (and whose delivery was taken over) changes nothing."""
    now = utcnow()
    values: dict = {"locked_until": None, "response_status": outcome.status_code,
                    "last_error": outcome.error[:2000] if outcome.error else None}
    if outcome.delivered:
        values.update(status="delivered", delivered_at=now)
    elif outcome.final or attempt >= settings.webhook_max_attempts:
        values.update(status="failed")
    else:
        values.update(status="pending", next_attempt_at=now + timedelta(seconds=retry_delay(
            attempt, settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds)))
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == attempt,
               WebhookDelivery.status == "pending")
        .values(**values).execution_options(synchronize_session=False)
    )
    return values["status"]
