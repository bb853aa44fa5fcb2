"""Class labels of a sample job: checked against the model, by index or by class name."""

from typing import Any

from services.db.models import Model
from services.errors import InputError


def class_count(model: Model) -> int | None:
    """Real classes of a class-conditioned model (its trained "no label" embedding is not one of them)."""
    if not model.num_class_embeds:
        return None
    return len(model.class_names) if model.class_names else model.num_class_embeds


def resolve_class_labels(requested: list[Any] | None, num_images: int, model: Model) -> list[int] | None:
    """One label index per image; a class-conditioned model with no labels given cycles through its classes."""
    count = class_count(model)
    if count is None:
        if requested:
            raise InputError("class_labels", f"model {model.id} is not class-conditioned; omit class_labels")
        return None
    if not requested:
        return [index % count for index in range(num_images)]
    if len(requested) != num_images:
        raise InputError("class_labels", f"give one label per image: {num_images} expected, {len(requested)} given")
    names = [str(name) for name in (model.class_names or [])]
    resolved = []
    for label in requested:
        if isinstance(label, str) and label in names:
            resolved.append(names.index(label))
        elif isinstance(label, int) and not isinstance(label, bool) and 0 <= label < count:
            resolved.append(label)
        else:
            choices = f"class names {names}" if names else "indices"
            raise InputError("class_labels", f"{label!r} is not a class of this model; use {choices} or 0..{count - 1}")
    return resolved
