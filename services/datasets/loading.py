"""Datasets as tensors, in the worker: every image decoded once, resized and scaled to [-1, 1].

Images are resized as diffusers' train_unconditional.py does (shorter side to ``image_size``, bilinear,
centre crop); labels come from class sub-folders, the built-in's targets or a hub label column.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image

from services.artifacts import ArtifactStore
from services.datasets.builtin import DIGITS_CLASS_NAMES, DIGITS_ID, digits_pixels
from services.datasets.catalog import get_dataset
from services.datasets.errors import DatasetInvalid, DatasetUnavailable
from services.datasets.hub import check_column, hub_images, hub_labels, load_hub_split
from services.datasets.images import DECODE_ERRORS
from services.datasets.ingest import read_manifest
from services.datasets.limits import DatasetLimits
from services.datasets.sources import scan_folder
from services.db import session_scope
from services.db.models import Dataset
from services.errors import InputError, NotFound
from services.settings import get_settings
from services.training.data import TensorImages

__all__ = ["DatasetInvalid", "DatasetSpec", "DatasetUnavailable", "LoadedImages", "load_dataset_images",
           "load_images"]

PIL_MODES = {1: "L", 3: "RGB"}


@dataclass(frozen=True)
class DatasetSpec:
    """What the loader needs of a dataset, for callers without a row (e.g. a local folder or a hub name)."""

    source_type: str  # builtin | upload | imagefolder | hub
    source: str  # builtin name, uploaded file name, folder path, or hub dataset name
    path: str | None = None  # the folder in the artifact store, for uploads
    meta: dict[str, Any] = field(default_factory=dict)  # split, image_column, label_column for hub datasets


class LoadedImages(NamedTuple):
    images: torch.Tensor  # float32 N×C×H×W in [-1, 1]
    labels: torch.Tensor | None  # long N, in [0, len(class_names))
    class_names: list[str] | None


def pixels(image: Image.Image, size: int, mode: str) -> np.ndarray:
    """One picture as uint8 C×size×size: converted, shorter side resized (bilinear), centre-cropped."""
    image = image.convert(mode)
    if image.size != (size, size):
        scale = size / min(image.size)
        width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
        image = image.resize((width, height), Image.Resampling.BILINEAR)
        left, top = (width - size) // 2, (height - size) // 2
        image = image.crop((left, top, left + size, top + size))
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def subset(count: int, max_images: int | None) -> list[int]:
    """All indices, or ``max_images`` spread evenly over them (so every class keeps its share)."""
    if max_images is None or max_images >= count:
        return list(range(count))
    return [(i * count) // max_images for i in range(max_images)]


def _stack(images: Iterable[Image.Image], count: int, size: int, channels: int) -> torch.Tensor:
    out = np.empty((count, channels, size, size), dtype=np.float32)
    filled = 0
    for filled, image in enumerate(images, start=1):
        out[filled - 1] = pixels(image, size, PIL_MODES[channels])
    if filled != count:
        raise DatasetInvalid(f"expected {count} images but read {filled}")
    out /= 127.5
    out -= 1.0
    return torch.from_numpy(out)


def _open_files(files: Sequence[Path]) -> Iterable[Image.Image]:
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()
                yield image
        except DECODE_ERRORS as error:
            raise DatasetInvalid(f"cannot read the image {path}: {error}") from None


def _labels(labels: Sequence[int] | None, indices: Sequence[int]) -> torch.Tensor | None:
    return None if labels is None else torch.tensor([labels[i] for i in indices], dtype=torch.long)


def load_images(dataset: Dataset | DatasetSpec, store: ArtifactStore, image_size: int, channels: int,
                max_images: int | None = None, *, hub_cache_dir: Path | None = None,
                limits: DatasetLimits | None = None) -> LoadedImages:
    """Decode ``dataset`` once into (images N×C×H×W in [-1, 1], labels or None, class names or None)."""
    if channels not in PIL_MODES:
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    if image_size < 1 or (max_images is not None and max_images < 1):
        raise ValueError("image_size and max_images must be positive")
    kind, source = dataset.source_type, dataset.source
    if kind == "builtin" and source == DIGITS_ID:
        digits, targets = digits_pixels()
        indices = subset(len(digits), max_images)
        images = (Image.fromarray(digits[i], "L") for i in indices)
        return LoadedImages(_stack(images, len(indices), image_size, channels),
                            torch.from_numpy(targets[indices]), list(DIGITS_CLASS_NAMES))
    if kind == "upload":
        folder = store.resolve(dataset.path)
        try:
            manifest = read_manifest(store, dataset.path)
        except (OSError, ValueError) as error:
            raise DatasetInvalid(f"the files of uploaded dataset {source} are missing or damaged: {error}") from None
        indices = subset(len(manifest["files"]), max_images)
        images = _open_files([folder / manifest["files"][i] for i in indices])
        return LoadedImages(_stack(images, len(indices), image_size, channels),
                            _labels(manifest["labels"], indices), manifest["class_names"])
    if kind == "imagefolder":
        try:
            scan = scan_folder(Path(source), limits or DatasetLimits())
            layout = scan.layout()
        except InputError as error:
            raise DatasetInvalid(f"the image folder can no longer be used: {error.message}") from None
        indices = subset(len(scan.files), max_images)
        images = _open_files([scan.files[i] for i in indices])
        return LoadedImages(_stack(images, len(indices), image_size, channels),
                            _labels(layout.labels, indices), layout.class_names)
    if kind == "hub":
        return _load_hub(dataset, image_size, channels, max_images, hub_cache_dir)
    raise DatasetInvalid(f"unknown dataset source {kind} {source!r}")


def _load_hub(dataset: Dataset | DatasetSpec, image_size: int, channels: int, max_images: int | None,
              cache_dir: Path | None) -> LoadedImages:
    meta = dataset.meta or {}
    name, split = dataset.source, meta.get("split") or "train"
    image_column, label_column = meta.get("image_column") or "image", meta.get("label_column")
    data = load_hub_split(name, split, cache_dir)
    check_column(data, image_column, name, "image")
    indices = subset(len(data), max_images)
    labels = class_names = None
    if label_column:
        check_column(data, label_column, name, "label")
        label_list, class_names = hub_labels(data, label_column, indices)
        labels = torch.tensor(label_list, dtype=torch.long)
    try:
        images = _stack(hub_images(data, image_column, name, indices), len(indices), image_size, channels)
    except DECODE_ERRORS as error:
        raise DatasetInvalid(f"an image of {name} cannot be read: {error}") from None
    return LoadedImages(images, labels, class_names)



def load_dataset_images(dataset_id: str, owner: str, store: ArtifactStore, image_size: int, channels: int,
                        max_images: int | None = None) -> tuple[TensorImages, list[str] | None]:
    """A training job's dataset, looked up for its owner, as TensorImages and its class names."""
    with session_scope() as session:
        try:
            dataset = get_dataset(session, dataset_id, owner)
        except NotFound:
            raise DatasetInvalid(f"dataset {dataset_id} no longer exists") from None
    settings = get_settings()
    images, labels, class_names = load_images(dataset, store, image_size, channels, max_images,
                                              hub_cache_dir=settings.hub_cache_dir, limits=DatasetLimits.of(settings))
    num_classes = len(class_names) if class_names is not None and labels is not None else None
    return TensorImages(images, labels, num_classes), class_names
