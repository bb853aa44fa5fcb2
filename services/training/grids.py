"""The periodic sample grid: what the model draws now, through the service's own denoising loop."""

import os
from pathlib import Path
from typing import Any

import torch
from diffusers.training_utils import EMAModel

from services.sampling.images import encode, grid, to_pil
from services.sampling.loop import denoise, initial_noise
from services.sampling.schedulers import build_scheduler


def sample_grid(
    unet: Any, noise_scheduler: Any, path: Path, *, ema: EMAModel | None = None, num_images: int,
    num_inference_steps: int, seed: int, num_classes: int | None = None,
) -> Path:
    """DDIM samples from the current (EMA, when kept) weights as one PNG; the same seed every time, to compare steps."""
    if ema is not None:
        ema.store(unet.parameters())
        ema.copy_to(unet.parameters())
    unet.eval()
    try:
        scheduler = build_scheduler("ddim", noise_scheduler.config)
        # Its own generator: sampling must not move the training's random streams.
        generator = torch.Generator("cpu").manual_seed(seed)
        config = unet.config
        noise = initial_noise(num_images, config.in_channels, config.sample_size, generator)
        labels = None
        if num_classes:
            labels = torch.arange(num_images, device=unet.device) % num_classes
        images = denoise(unet, scheduler, noise, num_inference_steps=num_inference_steps, generator=generator,
                         class_labels=labels)
    finally:
        if ema is not None:
            ema.restore(unet.parameters())
        unet.train()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(encode(grid(to_pil(images)), "png"))
    os.replace(temporary, path)
    return path
