"""Guidance pieces the denoising loop calls: classifier-free guidance and loss guidance (color, CLIP).

Loss guidance follows the course: predict the clean image x0 from the current sample, take the gradient of a
loss on x0 with respect to the sample, and move the sample against it before the scheduler's step.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

Weighting = Literal["none", "alpha_bar", "sqrt_alpha_bar", "sqrt_one_minus_alpha_bar"]


def time_weight(weighting: Weighting, alpha_bar: torch.Tensor) -> torch.Tensor:
    """How strongly to guide at a timestep; the course scales CLIP guidance by sqrt(alpha_bar)."""
    if weighting == "alpha_bar":
        return alpha_bar
    if weighting == "sqrt_alpha_bar":
        return alpha_bar.sqrt()
    if weighting == "sqrt_one_minus_alpha_bar":
        return (1 - alpha_bar).sqrt()
    return torch.ones_like(alpha_bar)


def predicted_x0(scheduler: Any, sample: torch.Tensor, model_output: torch.Tensor, timestep: Any) -> torch.Tensor:
    """The clean image the model implies now (DDPM/DDIM parameterisation), differentiable in both inputs."""
    alpha_bar = scheduler.alphas_cumprod.to(sample.device)[int(timestep)]
    prediction = scheduler.config.prediction_type
    if prediction == "epsilon":
        return (sample - (1 - alpha_bar).sqrt() * model_output) / alpha_bar.sqrt()
    if prediction == "v_prediction":
        return alpha_bar.sqrt() * sample - (1 - alpha_bar).sqrt() * model_output
    return model_output  # "sample": the model predicts x0 itself


def color_loss(images: torch.Tensor, target_rgb: tuple[float, float, float]) -> torch.Tensor:
    """The course's loss, mean |x0 - target| with the color mapped from [0, 1] to [-1, 1].

    Averaged per image and summed over the batch, so each image is steered as strongly whatever num_images is.
    """
    target = torch.tensor(target_rgb, device=images.device, dtype=images.dtype).view(1, -1, 1, 1) * 2 - 1
    if images.shape[1] == 1:  # grayscale: the target's luminance
        target = (target * torch.tensor([0.299, 0.587, 0.114], device=images.device).view(1, 3, 1, 1)).sum(1, True)
    return (images - target).abs().mean(dim=(1, 2, 3)).sum()


@dataclass
class LossGuide:
    """One loss on x0, its scale, how often it applies and how it is weighted over time."""

    loss: Callable[[torch.Tensor], torch.Tensor]
    scale: float
    every: int = 1
    weighting: Weighting = "none"

    def applies(self, index: int) -> bool:
        return index % self.every == 0


@dataclass
class Guidance:
    """Everything that steers one sampling run; the default steers nothing."""

    guides: list[LossGuide] = field(default_factory=list)
    through: Literal["x0", "unet"] = "x0"  # gradient through x0 only (cheap), or through the UNet (stronger)
    cfg_scale: float | None = None  # classifier-free guidance, class-conditioned models
    null_label: int | None = None  # the "no class" label the model was trained with


def predict_noise(unet: Any, model_input: torch.Tensor, timestep: Any, class_labels: torch.Tensor | None,
                  guidance: Guidance) -> torch.Tensor:
    """The UNet's prediction; with classifier-free guidance, conditional and unconditional in one batch."""
    if class_labels is None or not guidance.cfg_scale or guidance.cfg_scale == 1.0:
        return unet(model_input, timestep, class_labels=class_labels).sample
    unconditional = torch.full_like(class_labels, guidance.null_label)
    both = unet(torch.cat([model_input, model_input]), timestep,
                class_labels=torch.cat([class_labels, unconditional])).sample
    conditional, free = both.chunk(2)
    return free + guidance.cfg_scale * (conditional - free)


def guided_sample(
    scheduler: Any, sample: torch.Tensor, model_output: torch.Tensor, timestep: Any, index: int, guidance: Guidance,
) -> torch.Tensor:
    """The sample moved against the gradient of the active losses (``sample`` requires grad for them)."""
    active = [guide for guide in guidance.guides if guide.applies(index)]
    if not active:
        return sample.detach()
    with torch.enable_grad():
        x0 = predicted_x0(scheduler, sample, model_output, timestep)
        alpha_bar = scheduler.alphas_cumprod.to(sample.device)[int(timestep)]
        loss = sum(guide.loss(x0) * guide.scale * time_weight(guide.weighting, alpha_bar) for guide in active)
        gradient = torch.autograd.grad(loss, sample)[0]
    return (sample - gradient).detach()
