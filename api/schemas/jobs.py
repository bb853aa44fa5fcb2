"""Jobs as clients see them."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.artifacts import ArtifactOut
from services.db.models import Artifact, Job


class Progress(BaseModel):
    step: int = Field(0, description="Steps done.")
    total: int | None = Field(None, description="Steps in all (known once the job has started).")
    fraction: float = Field(0.0, description="step / total, from 0 to 1.")
    eta_s: float | None = Field(None, description="Estimated seconds until the work is done.")
    loss: float | None = Field(None, description="Latest training loss (training jobs).")
    resumed_from_step: int | None = Field(None, description="Training resumed from this checkpoint step.")
    preview_artifact_id: str | None = Field(None, description="The latest preview image, when previews are on.")


class JobError(BaseModel):
    type: str = Field(description="Error type, e.g. model_unavailable, worker_lost, internal_error.")
    message: str = Field(description="What went wrong.")


class JobMetrics(BaseModel):
    queue_s: float | None = Field(description="Seconds from submission to the start of the (last) run.")
    run_s: float | None = Field(description="Seconds from the start of the (last) run to its end.")


class JobUrls(BaseModel):
    self: str = Field(description="This job.")
    cancel: str = Field(description="POST here to cancel it.")
    events: str = Field(description="Server-sent events with its status and progress.")


class JobOut(BaseModel):
    id: str = Field(description="Job id, also the id of its broker message.")
    kind: Literal["sample", "train"]
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    input: dict[str, Any] = Field(description="The validated request, with defaults and the seed filled in.")
    progress: Progress
    error: JobError | None = Field(description="Why the job failed; null otherwise.")
    artifacts: list[ArtifactOut] = Field(description="Files the job produced (recorded when it finishes).")
    model_id: str | None = Field(description="The model a training job produced.")
    attempts: int = Field(description="How many times a worker started the job.")
    cancel_requested: bool = Field(description="A cancel was asked for; a running job stops at its next step.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    metrics: JobMetrics
    urls: JobUrls

    @classmethod
    def of(cls, job: Job, artifacts: list[Artifact]) -> "JobOut":
        def seconds(start: datetime | None, end: datetime | None) -> float | None:
            return round((end - start).total_seconds(), 4) if start and end else None

        base = f"/v1/jobs/{job.id}"
        return cls(
            id=job.id, kind=job.kind, status=job.status, input=job.input,
            progress=Progress(**{k: v for k, v in (job.progress or {}).items() if k in Progress.model_fields}),
            error=JobError(type=job.error_type, message=job.error_message or "") if job.error_type else None,
            artifacts=[ArtifactOut.of(a) for a in artifacts], model_id=job.model_id, attempts=job.attempts,
            cancel_requested=job.cancel_requested, created_at=job.created_at, started_at=job.started_at,
            finished_at=job.finished_at,
            metrics=JobMetrics(queue_s=seconds(job.created_at, job.started_at),
                               run_s=seconds(job.started_at, job.finished_at)),
            urls=JobUrls(self=base, cancel=f"{base}/cancel", events=f"{base}/events"),
        )


class JobList(BaseModel):
    items: list[JobOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last page.")


class CancelOut(BaseModel):
    result: Literal["canceled", "requested", "already_final"] = Field(
        description="canceled: it was queued and will not run; requested: it is running and stops at its next "
        "step; already_final: it had finished, nothing changed."
    )
    job: JobOut
