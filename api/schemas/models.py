"""The model registry."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.db.models import Model


class ModelRegister(BaseModel):
    """Register a diffusers pipeline folder the server can read, or a Hugging Face hub model id. Give one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"path": "/data/models/ddpm-digits", "name": "digits"},
                                        {"hub_id": "google/ddpm-cifar10-32"}]},
    )

    path: str | None = Field(None, description="A folder saved with save_pretrained(): unet/ (and scheduler/).")
    hub_id: str | None = Field(None, description="A hub repository with a UNet2DModel pipeline.",
                               pattern=r"^[\w.-]+(/[\w.-]+)?$", max_length=200)
    name: str | None = Field(None, max_length=255, description="A name to show; defaults to the folder or hub id.")

    @model_validator(mode="after")
    def _exactly_one_source(self) -> "ModelRegister":
        if (self.path is None) == (self.hub_id is None):
            raise ValueError("give exactly one of path or hub_id")
        return self


class ModelOut(BaseModel):
    id: str
    name: str
    source_type: Literal["hub", "folder", "job"] = Field(description="Where it came from.")
    source: str = Field(description="The hub id, the folder it was imported from, or the training job id.")
    sample_size: int = Field(description="Image height and width in pixels.")
    in_channels: int = Field(description="1 for grayscale, 3 for RGB.")
    out_channels: int
    num_class_embeds: int | None = Field(description="Number of classes of a class-conditioned model; null if none.")
    class_names: list[Any] | None = Field(description="Names of the classes, by label index.")
    scheduler_class: str | None = Field(description="The scheduler it was saved with.")
    meta: dict[str, Any] = Field(description="Lineage and other facts.")
    created_at: datetime

    @classmethod
    def of(cls, model: Model) -> "ModelOut":
        return cls.model_validate(model, from_attributes=True)


class ModelList(BaseModel):
    items: list[ModelOut]
