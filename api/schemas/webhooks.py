"""Webhooks: the caller's signing secret and a job's deliveries."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.db.models import WebhookDelivery


class WebhookSecretOut(BaseModel):
    secret: str = Field(
        description="Your signing secret (Standard Webhooks): base64 after `whsec_`. Each delivery's "
        "`webhook-signature` is `v1,` + base64(HMAC-SHA256(key, f\"{webhook-id}.{webhook-timestamp}.{body}\")).",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookDeliveryOut(BaseModel):
    id: str = Field(description="The delivery id, sent as the `webhook-id` header (the same on every retry).")
    job_id: str
    event: Literal["started", "progress", "completed"]
    url: str = Field(description="Where it is POSTed.")
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending: not yet accepted (retried with backoff); delivered: a 2xx answer; failed: given up."
    )
    attempts: int = Field(description="POSTs made so far.")
    response_status: int | None = Field(description="HTTP status of the last answer; null if none came.")
    last_error: str | None = Field(description="Why the last attempt failed.")
    created_at: datetime = Field(description="When the event happened (the payload's `timestamp`).")
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next.")
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> "WebhookDeliveryOut":
        return cls(
            id=delivery.id, job_id=delivery.job_id, event=delivery.event, url=delivery.url, status=delivery.status,
            attempts=delivery.attempts, response_status=delivery.response_status, last_error=delivery.last_error,
            created_at=delivery.created_at, delivered_at=delivery.delivered_at,
            next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        )


class WebhookDeliveryList(BaseModel):
    items: list[WebhookDeliveryOut] = Field(description="Oldest first.")
