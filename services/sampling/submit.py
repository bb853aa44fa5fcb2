"""Accept a sample request: every check happens here, so nothing invalid reaches a worker."""

import secrets
from typing import Any

from sqlalchemy.orm import Session

from services.access import get_readable
from services.db.models import Job, Model
from services.errors import InputError, NotFound
from services.jobs.lifecycle import create_job
from services.jobs.states import JobKind
from services.sampling.catalog import SCHEDULERS
from services.sampling.labels import resolve_class_labels
from services.settings import Settings


def check_sample_input(params: dict[str, Any], model: Model, settings: Settings) -> None:
    """Limits from the settings and compatibility with the scheduler; the schema checked types and ranges."""
    if params["num_images"] > settings.max_images_per_job:
        raise InputError("num_images", f"at most {settings.max_images_per_job} images per job")
    if params["num_inference_steps"] > settings.max_inference_steps:
        raise InputError("num_inference_steps", f"at most {settings.max_inference_steps} steps")
    spec = SCHEDULERS[params["scheduler"]]
    if params.get("eta") is not None and not spec.accepts_eta:
        takers = ", ".join(name for name, other in SCHEDULERS.items() if other.accepts_eta)
        raise InputError("eta", f"scheduler {spec.name} has no eta; only {takers} take it")


def submit_sample(session: Session, owner: str, params: dict[str, Any], settings: Settings) -> Job:
    """A queued sample job for ``params`` (validated); a missing seed is drawn now so the job can be repeated."""
    try:
        model = get_readable(session, Model, params["model_id"], owner)
    except NotFound as error:
        raise InputError("model_id", error.message) from error
    check_sample_input(params, model, settings)
    params = {**params, "class_labels": resolve_class_labels(params.get("class_labels"), params["num_images"], model)}
    if params.get("seed") is None:
        params["seed"] = secrets.randbelow(2**31)
    return create_job(session, owner=owner, kind=JobKind.SAMPLE, input=params)
