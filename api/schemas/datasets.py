"""Datasets: built-in, uploaded archives, server image folders and Hugging Face dataset names."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.db.models import Dataset

HUB_ONLY = ("split", "image_column", "label_column")


class DatasetSourceRegister(BaseModel):
    """Register an image folder the server can read, or a Hugging Face dataset name. Give one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"imagefolder": "/data/datasets/pets", "name": "pets"},
            {"hub": "huggan/smithsonian_butterflies_subset", "split": "train", "image_column": "image"},
        ]},
    )

    imagefolder: str | None = Field(
        None, description="An absolute folder on the server (within DJ_MODEL_IMPORT_DIRS when set): images at the "
        "top level, or in class sub-folders whose names become the labels. Read in place, not copied."
    )
    hub: str | None = Field(None, description="A Hugging Face dataset name, loaded by the worker with "
                            "datasets.load_dataset (needs the `datasets` package and the hub or its cache).",
                            pattern=r"^[\w.-]+(/[\w.-]+)?$", max_length=200)
    split: str | None = Field(None, max_length=100, description="Hub datasets: the split to train on (default train).")
    image_column: str | None = Field(None, max_length=100, description="Hub datasets: the image column "
                                     "(default image).")
    label_column: str | None = Field(None, max_length=100, description="Hub datasets: a column of class labels, "
                                     "for class-conditioned training; none by default.")
    name: str | None = Field(None, max_length=255, description="A name to show; defaults to the folder or hub name.")

    @model_validator(mode="after")
    def _exactly_one_source(self) -> "DatasetSourceRegister":
        if (self.imagefolder is None) == (self.hub is None):
            raise ValueError("give exactly one of imagefolder or hub")
        given = [name for name in HUB_ONLY if getattr(self, name) is not None]
        if self.imagefolder is not None and given:
            raise ValueError(f"{', '.join(given)} apply to hub datasets only")
        return self


class DatasetOut(BaseModel):
    id: str = Field(description="The id training requests name; `digits` for the built-in digits.")
    name: str
    source_type: Literal["builtin", "upload", "imagefolder", "hub"] = Field(description="Where the images come from.")
    source: str = Field(description="The built-in name, the uploaded file's name, the server folder, or the hub name.")
    num_images: int | None = Field(description="How many images; null for hub datasets (known when loaded).")
    num_classes: int | None = Field(description="How many class labels; null for a dataset without labels.")
    class_names: list[str] | None = Field(description="The class names, by label index (sorted folder names).")
    channels: int | None = Field(description="1 when every image is grayscale, else 3 (training's default); "
                                 "null when not known yet (hub datasets).")
    meta: dict[str, Any] = Field(description="What was seen: image formats, modes and sizes; hub split and columns.")
    created_at: datetime | None = Field(description="When it was added; null for built-in datasets.")

    @classmethod
    def of(cls, dataset: Dataset) -> "DatasetOut":
        names = dataset.class_names
        return cls(id=dataset.id, name=dataset.name, source_type=dataset.source_type, source=dataset.source,
                   num_images=dataset.num_images, num_classes=len(names) if names is not None else None,
                   class_names=names, channels=dataset.channels, meta=dataset.meta or {}, created_at=dataset.created_at)


class DatasetList(BaseModel):
    items: list[DatasetOut]
