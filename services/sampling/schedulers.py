"""Build a fresh scheduler for one job from a model's own scheduler configuration."""

import inspect
from typing import Any

import diffusers
import torch

from services.sampling.catalog import SCHEDULERS


def build_scheduler(name: str, base_config: dict[str, Any]) -> Any:
    """A new instance (schedulers keep per-run state) of the named scheduler, configured like the model's own."""
    spec = SCHEDULERS[name]
    scheduler_class = getattr(diffusers, spec.class_name)
    return scheduler_class.from_config(base_config)


def step_arguments(scheduler: Any, generator: torch.Generator | None, eta: float | None) -> dict[str, Any]:
    """Keyword arguments of ``scheduler.step`` for this run: the generator where it draws noise, eta for DDIM."""
    parameters = inspect.signature(scheduler.step).parameters
    arguments: dict[str, Any] = {}
    if "generator" in parameters:
        arguments["generator"] = generator
    if eta is not None:
        if "eta" not in parameters:
            raise ValueError(f"{type(scheduler).__name__} has no eta")
        arguments["eta"] = eta
    return arguments
