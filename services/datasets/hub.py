"""Hugging Face `datasets` in the worker: imported only here, and only when a hub dataset is loaded."""

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from services.datasets.errors import DatasetInvalid, DatasetUnavailable


def load_hub_split(name: str, split: str, cache_dir: Path | None) -> Any:
    """``datasets.load_dataset(name, split=split)``, its failures turned into job errors a person can act on."""
    try:
        import datasets  # optional: only workers that load hub datasets need it
    except ImportError:
        raise DatasetUnavailable(
            f"the Hugging Face dataset {name} cannot be loaded: the `datasets` package is not installed in the "
            "worker; install the `datasets` package (pip install datasets) or use an uploaded or built-in dataset"
        ) from None
    try:
        return datasets.load_dataset(name, split=split, cache_dir=str(cache_dir) if cache_dir else None)
    except ValueError as error:  # an unknown split or configuration
        raise DatasetInvalid(f"the Hugging Face dataset {name} has no usable split {split!r}: {error}") from None
    except Exception as error:
        raise DatasetUnavailable(
            f"the Hugging Face hub could not be reached to load {name} (split {split}), or it has no such "
            f"dataset: {type(error).__name__}: {error}"
        ) from None


def check_column(data: Any, column: str, name: str, what: str) -> None:
    if column not in data.column_names:
        raise DatasetInvalid(f"the Hugging Face dataset {name} has no {what} column {column!r}; "
                             f"its columns are {', '.join(data.column_names)}")


def hub_labels(data: Any, column: str, indices: Sequence[int]) -> tuple[list[int], list[str]]:
    """The labels of the rows at ``indices``; a ClassLabel column keeps its names, other values are sorted as text."""
    feature = data.features[column]
    values = list(data[column])
    if hasattr(feature, "names"):
        return [int(values[i]) for i in indices], [str(name) for name in feature.names]
    class_names = sorted({str(value) for value in values})
    index = {name: label for label, name in enumerate(class_names)}
    return [index[str(values[i])] for i in indices], class_names


def as_pil(value: Any, name: str, position: int) -> Image.Image:
    """An image cell: a decoded PIL image, or the {bytes, path} dict or path that undecoded columns hold."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict) and (value.get("bytes") or value.get("path")):
        return Image.open(io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"])
    if isinstance(value, str):
        return Image.open(value)
    raise DatasetInvalid(f"row {position} of {name} holds no image but {type(value).__name__}")


def hub_images(data: Any, column: str, name: str, indices: Sequence[int]) -> Iterator[Image.Image]:
    for position, row in zip(indices, data.select(indices), strict=True):
        yield as_pil(row[column], name, position)
