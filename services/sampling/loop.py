"""The one denoising loop every sample job runs; guidance and conditioning are pieces it calls."""

from collections.abc import Callable
from typing import Any

import torch
from diffusers.utils.torch_utils import randn_tensor

from services.sampling.guidance import Guidance, guided_sample, predict_noise
from services.sampling.schedulers import step_arguments

StepCallback = Callable[[int, int], None]
PreviewCallback = Callable[[int, torch.Tensor], None]


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
    guidance: Guidance | None = None,
    on_step: StepCallback | None = None,
    on_x0: PreviewCallback | None = None,
) -> torch.Tensor:
    """Run the scheduler from ``noise`` to an image batch in [-1, 1].

    ``on_step(done, total)`` follows every step; ``on_x0(done, x0)`` receives the predicted clean image.
    """
    guidance = guidance or Guidance()
    device = next(unet.parameters()).device
    scheduler.set_timesteps(num_inference_steps, device=device)
    # Sigma-based schedulers (Euler, Heun, ...) start from noise scaled by their largest sigma.
    sample = noise.to(device=device, dtype=unet.dtype) * scheduler.init_noise_sigma
    extra = step_arguments(scheduler, generator, eta)
    timesteps = scheduler.timesteps
    through_unet = bool(guidance.guides) and guidance.through == "unet"
    for index, timestep in enumerate(timesteps):
        if guidance.guides:
            sample = sample.detach().requires_grad_()
        with torch.set_grad_enabled(through_unet):
            model_input = scheduler.scale_model_input(sample, timestep)
            noise_pred = predict_noise(unet, model_input, timestep, class_labels, guidance)
        if guidance.guides:
            sample = guided_sample(scheduler, sample, noise_pred if through_unet else noise_pred.detach(),
                                   timestep, index, guidance)
        output = scheduler.step(noise_pred.detach(), timestep, sample, **extra)
        sample = output.prev_sample
        if on_step is not None:
            on_step(index + 1, len(timesteps))
        if on_x0 is not None and getattr(output, "pred_original_sample", None) is not None:
            on_x0(index + 1, output.pred_original_sample)
    return sample
