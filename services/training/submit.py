"""Accept a training request: resolve its defaults and check everything, so nothing invalid reaches a worker."""

import dataclasses
from typing import Any

from sqlalchemy.orm import Session

from services.access import get_readable
from services.datasets.catalog import get_dataset
from services.db.models import Dataset, Job, Model
from services.errors import InputError, NotFound
from services.jobs.lifecycle import create_job
from services.jobs.options import resolve_job_options
from services.jobs.states import JobKind
from services.settings import Settings
from services.training.params import FINETUNE_LEARNING_RATE, TrainingParams

PARAM_FIELDS = {field.name for field in dataclasses.fields(TrainingParams)}


def _base_model(session: Session, model_id: str, owner: str) -> Model:
    try:
        return get_readable(session, Model, model_id, owner)
    except NotFound as error:
        raise InputError("base_model", error.message) from error


def is_grayscale(dataset: Dataset) -> bool:
    """Every image the dataset was seen to hold is grayscale (as the digits are)."""
    modes = set((dataset.meta or {}).get("modes") or {})
    return bool(modes) and modes <= {"1", "L", "LA", "I", "I;16", "F"}


def resolve_defaults(request: dict[str, Any], dataset: Dataset, base: Model | None) -> dict[str, Any]:
    """Fill what the client left out: sizes from the base model or the data, the course's fine-tuning LR."""
    grayscale = is_grayscale(dataset)
    defaults = {
        "image_size": base.sample_size if base else 32,
        "channels": base.in_channels if base else (1 if grayscale else 3),
        "learning_rate": FINETUNE_LEARNING_RATE if base else 1e-4,
        # Mirrored digits or letters are other symbols; flips only help data without a handedness.
        "random_flip": not grayscale,
    }
    return {**request, **{key: value for key, value in defaults.items() if request.get(key) is None}}


def check_against_base(params: dict[str, Any], base: Model) -> None:
    if params["image_size"] != base.sample_size:
        raise InputError("image_size", f"the base model is {base.sample_size}×{base.sample_size}; fine-tune at that size")
    if params["channels"] != base.in_channels:
        raise InputError("channels", f"the base model has {base.in_channels} channel(s)")
    if bool(base.num_class_embeds) != params["class_conditional"]:
        state = "is" if base.num_class_embeds else "is not"
        raise InputError("class_conditional", f"the base model {state} class-conditioned; fine-tuning keeps that")


def check_limits(params: dict[str, Any], settings: Settings) -> None:
    for field, limit in (("max_steps", settings.max_training_steps), ("image_size", settings.max_image_size),
                         ("batch_size", settings.max_batch_size)):
        if params[field] > limit:
            raise InputError(field, f"at most {limit} on this server")


def build_params(params: dict[str, Any]) -> TrainingParams:
    """The run's TrainingParams; its own checks (e.g. image size vs. the UNet) become field errors."""
    values = {key: value for key, value in params.items() if key in PARAM_FIELDS}
    try:
        return TrainingParams.from_dict(values)
    except ValueError as error:
        message = str(error).split("; ")[0]
        field = message.split(" ", 1)[0]
        raise InputError(field if field in PARAM_FIELDS else "body", message.split(" ", 1)[-1]) from error


def submit_training(session: Session, owner: str, request: dict[str, Any], settings: Settings) -> Job:
    """A queued training job for a validated request; its input holds every resolved hyperparameter."""
    dataset = get_dataset(session, request["dataset_id"], owner, field="dataset_id")
    base = _base_model(session, request["base_model"], owner) if request.get("base_model") else None
    params = resolve_defaults(request, dataset, base)
    if base is not None:
        check_against_base(params, base)
    if params["class_conditional"] and len(dataset.class_names or []) < 2:
        raise InputError("class_conditional", f"dataset {dataset.id} has {len(dataset.class_names or [])} "
                         "classes; class conditioning needs labels with at least 2 classes")
    check_limits(params, settings)
    params = resolve_job_options(params, settings)
    resolved = build_params(params)
    job_input = {**params, **resolved.to_dict()}
    return create_job(session, owner=owner, kind=JobKind.TRAIN, input=job_input)
