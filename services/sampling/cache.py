"""Models a worker keeps loaded, least recently used evicted first, so a second job does not reload."""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import DDPMScheduler, UNet2DModel

from services.jobs.runner import JobError


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


class ModelCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, key: str, location: str | Path, device: torch.device, cache_dir: Path | None = None) -> LoadedModel:
        entry_key = (key, str(device))
        with self._lock:
            if entry_key in self._entries:
                self._entries.move_to_end(entry_key)
                return self._entries[entry_key]
        loaded = load_model(location, device, cache_dir)
        with self._lock:
            self.loads += 1
            self._entries[entry_key] = loaded
            self._entries.move_to_end(entry_key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return loaded

    def evict(self, key: str) -> None:
        with self._lock:
            for entry_key in [k for k in self._entries if k[0] == key]:
                del self._entries[entry_key]
