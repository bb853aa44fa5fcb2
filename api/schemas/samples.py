"""The sample request."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.sampling.catalog import DEFAULT_SCHEDULER, SCHEDULERS

SchedulerName = Literal[tuple(SCHEDULERS)]  # type: ignore[valid-type]


class SampleRequest(BaseModel):
    """Sample images from a registered model."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"model_id": "0b6f3c2e9d7a4c1e8f5a2b3c4d5e6f70", "scheduler": "ddim", "num_inference_steps": 50,
             "seed": 42, "num_images": 4}
        ]},
    )

    model_id: str = Field(description="Id of a registered model (GET /v1/models).")
    scheduler: SchedulerName = Field(DEFAULT_SCHEDULER, description="Scheduler to sample with (GET /v1/schedulers).")
    num_inference_steps: int = Field(50, ge=1, description="Denoising steps; DDPM wants hundreds, DDIM 20-100.")
    eta: float | None = Field(
        None, ge=0.0, le=1.0, description="DDIM only: 0 is deterministic DDIM, 1 behaves like DDPM. Omit for others."
    )
    seed: int | None = Field(
        None, ge=0, lt=2**63, description="Same seed, model and settings give the same pixels. Omitted: drawn for you "
        "and shown in the job's input."
    )
    num_images: int = Field(1, ge=1, description="Images to sample in one batch (bounded by the server's limit).")
    class_labels: list[int | str] | None = Field(
        None, description="Class-conditioned models only: one label per image, by index or class name. Omitted: "
        "the images cycle through the classes.", examples=[[0, 1, "7"]],
    )
    output_format: Literal["png", "jpeg", "webp"] = Field("png", description="File format of the images and grid.")
