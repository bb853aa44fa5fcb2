"""Artifacts: files a job produced."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.db.models import Artifact


class ArtifactOut(BaseModel):
    id: str = Field(description="Artifact id.")
    job_id: str | None = Field(description="The job that produced it.")
    kind: str = Field(description="image, grid, model, checkpoint, metrics, plot or preview.", examples=["image"])
    media_type: str = Field(description="Content type of its bytes.", examples=["image/png"])
    size_bytes: int = Field(description="Size of its bytes.")
    url: str = Field(description="Where to download its bytes.", examples=["/v1/artifacts/3f2a.../content"])
    meta: dict[str, Any] = Field(description="Kind-specific facts, e.g. width, height, seed, index.")
    created_at: datetime

    @classmethod
    def of(cls, artifact: Artifact) -> "ArtifactOut":
        return cls(
            id=artifact.id, job_id=artifact.job_id, kind=artifact.kind, media_type=artifact.media_type,
            size_bytes=artifact.size_bytes, url=f"/v1/artifacts/{artifact.id}/content", meta=artifact.meta,
            created_at=artifact.created_at,
        )
