"""Models a worker keeps loaded, least recently used evicted first, so a second job does not reload."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import DDPMScheduler, UNet2DModel

from services.jobs.runner import JobError
from services.lru import LRUCache


class ModelLoadError(JobError):
    """The model's files could not be found or loaded."""

    error_type = "model_unavailable"


@dataclass
class LoadedModel:
    unet: UNet2DModel
    scheduler_config: dict[str, Any]


def load_model(location: str | Path, device: torch.device, cache_dir: Path | None = None) -> LoadedModel:
    """Load a diffusers pipeline folder (or hub id): its UNet and its scheduler's configuration."""
    try:
        unet = UNet2DModel.from_pretrained(location, subfolder="unet", cache_dir=cache_dir)
    except Exception as error:  # missing files, a hub that cannot be reached, corrupt weights
        raise ModelLoadError(f"could not load the model's UNet from {location}: {error}") from error
    try:
        scheduler_config = dict(DDPMScheduler.load_config(location, subfolder="scheduler", cache_dir=cache_dir))
    except Exception:  # a bare UNet folder: sample with the training default
        scheduler_config = dict(DDPMScheduler().config)
    unet.to(device).eval().requires_grad_(False)
    return LoadedModel(unet=unet, scheduler_config=scheduler_config)


class ModelCache(LRUCache[LoadedModel]):
    """Models a worker keeps loaded, by registry id and device."""

    def get(self, key: str, location: str | Path, device: torch.device, cache_dir: Path | None = None) -> LoadedModel:
        return self.get_or_load((key, str(device)), lambda: load_model(location, device, cache_dir))
