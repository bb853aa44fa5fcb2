"""Options every job request takes: a time limit and a webhook."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WebhookEvent = Literal["started", "progress", "completed"]


class Webhook(BaseModel):
    """Where to POST the job's events; each delivery is signed (Standard Webhooks) and retried on failure."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="An http(s) URL that receives the events as JSON POSTs.",
                     examples=["https://example.com/hooks/diffusion"])
    events: list[WebhookEvent] = Field(
        default_factory=lambda: ["completed"], min_length=1,
        description="started: a worker began a run; progress: step/loss updates (throttled); completed: the job "
        "succeeded, failed or was canceled.",
    )


class JobOptions(BaseModel):
    time_limit_seconds: float | None = Field(
        None, gt=0, description="Longest one run of the job may take before it fails with `timeout`. Omitted: the "
        "server's default (DJ_JOB_TIME_LIMIT_SECONDS); at most DJ_MAX_JOB_TIME_LIMIT_SECONDS.",
    )
    webhook: Webhook | None = Field(None, description="Receive the job's events by HTTP instead of polling.")
