"""Accept a sample request: every check happens here, so nothing invalid reaches a worker."""

import secrets
from typing import Any

from sqlalchemy.orm import Session

from services.access import get_readable
from services.db.models import Job, Model
from services.errors import InputError, NotFound
from services.jobs.lifecycle import create_job
from services.jobs.options import resolve_job_options
from services.jobs.states import JobKind
from services.sampling.catalog import SCHEDULERS, SchedulerSpec
from services.sampling.labels import class_count, resolve_class_labels
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
    check_guidance(params, model, spec, settings)


def check_guidance(params: dict[str, Any], model: Model, spec: SchedulerSpec, settings: Settings) -> None:
    """Guidance only where it gives a right picture: loss guidance with stateless steps, CFG with a null class."""
    kinds = [name for name in ("color_guidance", "clip_guidance") if params.get(name)]
    if kinds and not spec.stateless_step:
        allowed = ", ".join(name for name, other in SCHEDULERS.items() if other.stateless_step)
        raise InputError("scheduler", f"{' and '.join(kinds)} needs a scheduler whose step keeps no state "
                         f"({allowed}), not {spec.name}")
    if params.get("clip_guidance") and not settings.clip_model:
        raise InputError("clip_guidance", "this server has no CLIP model configured (DJ_CLIP_MODEL)")
    if params.get("guidance_scale") is not None:
        count = class_count(model)
        if count is None:
            raise InputError("guidance_scale", f"model {model.id} is not class-conditioned; classifier-free guidance "
                             "needs a class-conditioned model")
        if model.num_class_embeds != count + 1:
            raise InputError("guidance_scale", f"model {model.id} has no 'no class' embedding (it was not trained "
                             "with label dropout), so it has no unconditional prediction to guide against")


def submit_sample(session: Session, owner: str, params: dict[str, Any], settings: Settings) -> Job:
    """A queued sample job for ``params`` (validated); a missing seed is drawn now so the job can be repeated."""
    try:
        model = get_readable(session, Model, params["model_id"], owner)
    except NotFound as error:
        raise InputError("model_id", error.message) from error
    check_sample_input(params, model, settings)
    params = resolve_job_options(params, settings)
    params = {**params, "class_labels": resolve_class_labels(params.get("class_labels"), params["num_images"], model)}
    if params.get("seed") is None:
        params["seed"] = secrets.randbelow(2**31)
    return create_job(session, owner=owner, kind=JobKind.SAMPLE, input=params)
