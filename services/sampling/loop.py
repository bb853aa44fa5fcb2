"""The one denoising loop every sample job runs (and, later, guidance and conditioning plug into)."""

from collections.abc import Callable
from typing import Any

import torch
from diffusers.utils.torch_utils import randn_tensor

from services.sampling.schedulers import step_arguments

StepCallback = Callable[[int, int], None]


def initial_noise(batch: int, channels: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """The starting noise, drawn as ``DDPMPipeline`` draws it, from a CPU generator so any device gives the same."""
    return randn_tensor((batch, channels, size, size), generator=generator, device=torch.device("cpu"))


@torch.no_grad()
def denoise(
    unet: Any,
    scheduler: Any,
    noise: torch.Tensor,
    *,
    num_inference_steps: int,
    generator: torch.Generator | None = None,
    eta: float | None = None,
    class_labels: torch.Tensor | None = None,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """Run the scheduler from ``noise`` to an image batch in [-1, 1]; ``on_step(done, total)`` after each step."""
    device = next(unet.parameters()).device
    scheduler.set_timesteps(num_inference_steps, device=device)
    # Sigma-based schedulers (Euler, Heun, ...) start from noise scaled by their largest sigma.
    sample = noise.to(device=device, dtype=unet.dtype) * scheduler.init_noise_sigma
    extra = step_arguments(scheduler, generator, eta)
    timesteps = scheduler.timesteps
    for index, timestep in enumerate(timesteps):
        model_input = scheduler.scale_model_input(sample, timestep)
        noise_pred = unet(model_input, timestep, class_labels=class_labels).sample
        sample = scheduler.step(noise_pred, timestep, sample, **extra).prev_sample
        if on_step is not None:
            on_step(index + 1, len(timesteps))
    return sample
