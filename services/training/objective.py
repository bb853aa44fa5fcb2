"""The denoising objective of one batch, as train_unconditional.py computes it, and mixed precision."""

import contextlib
from typing import Any

import torch
import torch.nn.functional as F

AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_mixed_precision(requested: str, device: torch.device) -> str:
    """The precision actually used: fp16/bf16 only on CUDA devices that have it, else full precision."""
    if requested == "no" or device.type != "cuda":
        # CPU autocast exists, but without bf16 hardware it is slower than fp32 and fp16 is unsupported.
        return "no"
    if requested == "bf16" and not torch.cuda.is_bf16_supported():
        return "no"
    return requested


def autocast(mixed_precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast for the forward pass, or nothing in full precision."""
    if mixed_precision == "no":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[mixed_precision])


def drop_labels(labels: torch.Tensor, null_label: int, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Labels with a random ``probability`` of them replaced by the null class, so guidance-free sampling works."""
    if probability <= 0:
        return labels
    dropped = torch.rand(labels.shape, generator=generator, device=labels.device) < probability
    return torch.where(dropped, torch.full_like(labels, null_label), labels)


def diffusion_loss(
    unet: Any, noise_scheduler: Any, clean: torch.Tensor, generator: torch.Generator, *,
    class_labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """MSE of the UNet's prediction at a random timestep, against its target for the scheduler's prediction type."""
    noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
    timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(clean),),
                              generator=generator, device=clean.device)
    noisy = noise_scheduler.add_noise(clean, noise, timesteps)
    output = unet(noisy, timesteps, class_labels=class_labels).sample.float()
    prediction_type = noise_scheduler.config.prediction_type
    if prediction_type == "epsilon":
        return F.mse_loss(output, noise.float())
    if prediction_type == "v_prediction":
        return F.mse_loss(output, noise_scheduler.get_velocity(clean, noise, timesteps).float())
    if prediction_type == "sample":
        # SNR weighting (as train_unconditional.py, after the distillation paper) so noisy timesteps do not dominate.
        alpha = noise_scheduler.alphas_cumprod.to(clean.device)[timesteps].view(-1, 1, 1, 1)
        return (alpha / (1 - alpha) * F.mse_loss(output, clean.float(), reduction="none")).mean()
    raise ValueError(f"unsupported prediction_type {prediction_type!r}")
