"""The sample request."""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.job_options import JobOptions
from services.sampling.catalog import DEFAULT_SCHEDULER, SCHEDULERS

SchedulerName = Literal[tuple(SCHEDULERS)]  # type: ignore[valid-type]


class ColorGuidance(BaseModel):
    """Steer every pixel towards one color (the course's first guidance example)."""

    model_config = ConfigDict(extra="forbid")

    color: str | list[float] = Field(
        description="Target color: hex `#RRGGBB`, or `[r, g, b]` floats in [0, 1].", examples=["#1ae680", [0.1, 0.9, 0.5]]
    )
    scale: float = Field(40.0, gt=0, le=1000, description="Guidance loss scale; the course uses 40, 5-100 is useful.")

    @field_validator("color")
    @classmethod
    def _rgb(cls, value: str | list[float]) -> list[float]:
        if isinstance(value, str):
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
                raise ValueError("use #RRGGBB, e.g. #1ae680")
            return [round(int(value[i:i + 2], 16) / 255, 6) for i in (1, 3, 5)]
        if len(value) != 3 or not all(0 <= channel <= 1 for channel in value):
            raise ValueError("give three floats in [0, 1]")
        return [float(channel) for channel in value]


class ClipGuidance(BaseModel):
    """Steer the images towards a text prompt with CLIP (the course's second guidance example)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=300, description="What the images should look like.",
                        examples=["red roses"])
    scale: float = Field(8.0, gt=0, le=1000, description="Guidance loss scale; the course uses 8.")
    num_cuts: int = Field(4, ge=1, le=32, description="Random augmented crops CLIP sees per image and step.")
    every: int = Field(1, ge=1, le=1000, description="Apply it every this many steps.")
    weighting: Literal["none", "alpha_bar", "sqrt_alpha_bar", "sqrt_one_minus_alpha_bar"] = Field(
        "sqrt_alpha_bar", description="Weight of the guidance over time; the course uses sqrt(alpha_bar).",
    )


class SampleRequest(JobOptions):
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
    guidance_scale: float | None = Field(
        None, ge=1.0, le=50.0, description="Classifier-free guidance for class-conditioned models trained with label "
        "dropout: 1 is plain conditional sampling, higher follows the label more strictly.",
    )
    color_guidance: ColorGuidance | None = Field(None, description="Steer towards a color (DDPM or DDIM only).")
    clip_guidance: ClipGuidance | None = Field(None, description="Steer towards a prompt with CLIP (DDPM or DDIM only).")
    guidance_through: Literal["x0", "unet"] = Field(
        "x0", description="Loss guidance gradient through the predicted image only (cheap), or through the UNet "
        "(more memory, stronger).",
    )
    preview_every: int = Field(
        0, ge=0, description="Store a preview of the predicted clean image every this many steps; 0 is off. The "
        "job's progress names the latest one.",
    )
    output_format: Literal["png", "jpeg", "webp"] = Field("png", description="File format of the images and grid.")
