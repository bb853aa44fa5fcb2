"""Train or fine-tune a UNet2DModel on in-memory images: the loop of train_unconditional.py, resumable and cancelable.

Files under ``workdir``: ``checkpoints/step-NNNNNN/`` (latest two), ``samples/step-NNNNNN.png``,
``metrics.csv``, ``loss.png`` and, at the end, ``model/`` (a diffusers pipeline folder with a model card).
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from diffusers import DDPMScheduler, UNet2DModel

from services.jobs.progress import JobInterrupted
from services.training.checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from services.training.data import TensorImages
from services.training.export import save_model
from services.training.grids import sample_grid
from services.training.metrics import MetricsLog
from services.training.modelcard import model_card
from services.training.objective import autocast, diffusion_loss, drop_labels, resolve_mixed_precision
from services.training.params import TrainingParams
from services.training.plot import loss_curve
from services.training.state import TrainingState, build_state

log = logging.getLogger(__name__)

OnFile = Callable[[int, Path], None]


class Reporter(Protocol):
    """Told after every optimizer step; raises JobInterrupted to stop the run (``ProgressReporter`` is one)."""

    def update(self, step: int, total: int, **extra: Any) -> None: ...


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced."""

    model_dir: Path
    losses: list[float]
    started_from_step: int
    steps: int
    device: str
    mixed_precision: str


def noise_scheduler_for(params: TrainingParams) -> DDPMScheduler:
    """The training (and saved) scheduler."""
    return DDPMScheduler(num_train_timesteps=params.num_train_timesteps, beta_schedule=params.beta_schedule,
                         prediction_type=params.prediction_type)


def check_data(params: TrainingParams, data: TensorImages) -> None:
    """Refuse data the parameters cannot train on, before any work is done."""
    if (data.size, data.channels) != (params.image_size, params.channels):
        raise ValueError(f"the data is {data.channels}×{data.size}×{data.size}; the parameters say "
                         f"{params.channels}×{params.image_size}×{params.image_size}")
    if params.class_conditional and data.labels is None:
        raise ValueError("a class-conditional run needs labelled data")


def optimizer_step(state: TrainingState, noise_scheduler: DDPMScheduler, params: TrainingParams,
                   num_classes: int | None, mixed_precision: str) -> tuple[float, float]:
    """One optimizer step over ``gradient_accumulation_steps`` batches; returns (mean loss, learning rate used)."""
    unet, device = state.unet, state.unet.device
    total = torch.zeros((), device=device)
    for _ in range(params.gradient_accumulation_steps):
        clean, labels = next(state.batches)
        # The null label num_classes (the extra embedding) stands for "no class", for classifier-free guidance.
        labels = (drop_labels(labels, num_classes, params.label_dropout, state.noise_generator)
                  if num_classes is not None else None)
        with autocast(mixed_precision, device):
            loss = diffusion_loss(unet, noise_scheduler, clean, state.noise_generator, class_labels=labels)
        loss = loss / params.gradient_accumulation_steps
        (state.scaler.scale(loss) if state.scaler is not None else loss).backward()
        total += loss.detach()
    if state.scaler is not None:
        state.scaler.unscale_(state.optimizer)  # clip the true gradients, not the scaled ones
    if params.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(unet.parameters(), params.max_grad_norm)
    lr = state.lr_scheduler.get_last_lr()[0]
    if state.scaler is not None:
        state.scaler.step(state.optimizer)
        state.scaler.update()
    else:
        state.optimizer.step()
    state.lr_scheduler.step()
    state.optimizer.zero_grad(set_to_none=True)
    if state.ema is not None:
        state.ema.step(unet.parameters())
    state.step += 1
    return total.item(), lr


def train(
    params: TrainingParams, data: TensorImages, workdir: Path, reporter: Reporter, device: torch.device | str, *,
    base_unet: UNet2DModel | None = None, card: Mapping[str, Any] | None = None,
    on_checkpoint: OnFile | None = None, on_samples: OnFile | None = None,
) -> TrainResult:
    """Train to ``max_steps``, resuming from the latest checkpoint in ``workdir``; an interruption checkpoints, re-raises."""
    workdir, device = Path(workdir), torch.device(device)
    check_data(params, data)
    mixed_precision = resolve_mixed_precision(params.mixed_precision, device)
    if mixed_precision != params.mixed_precision:
        log.warning("mixed precision %s is not supported on %s; training in full precision",
                    params.mixed_precision, device)
    num_classes = data.num_classes if params.class_conditional else None
    data = data.to(device)
    state = build_state(params, data, device, mixed_precision, base_unet)
    noise_scheduler = noise_scheduler_for(params)
    checkpoint = latest_checkpoint(workdir)
    if checkpoint is not None:
        load_checkpoint(checkpoint, state)
        log.info("resuming from %s", checkpoint)
    started_from_step = state.step
    saved_step = state.step if checkpoint is not None else None

    def checkpoint_now() -> None:
        nonlocal saved_step
        metrics.flush()
        path = save_checkpoint(workdir, state)
        saved_step = state.step
        if on_checkpoint is not None:
            on_checkpoint(state.step, path)

    with MetricsLog(workdir / "metrics.csv", state.losses, state.lrs) as metrics:
        try:
            while state.step < params.max_steps:
                loss, lr = optimizer_step(state, noise_scheduler, params, num_classes, mixed_precision)
                state.losses.append(loss)
                state.lrs.append(lr)
                metrics.append(state.step, loss, lr)
                reporter.update(state.step, params.max_steps, loss=loss)
                if params.checkpoint_every and state.step % params.checkpoint_every == 0:
                    checkpoint_now()
                if params.sample_every and state.step % params.sample_every == 0:
                    path = sample_grid(state.unet, noise_scheduler, workdir / "samples" / f"step-{state.step:06d}.png",
                                       ema=state.ema, num_images=params.num_sample_images,
                                       num_inference_steps=params.sample_steps, seed=params.seed,
                                       num_classes=num_classes)
                    if on_samples is not None:
                        on_samples(state.step, path)
        except JobInterrupted:  # canceled, handed back or out of time: keep what was learned
            if saved_step != state.step:
                checkpoint_now()
            raise
        if saved_step != state.step:
            checkpoint_now()  # a crash while exporting resumes here instead of training again
    loss_curve(state.losses, workdir / "loss.png")
    if state.ema is not None:
        state.ema.copy_to(state.unet.parameters())
    text = model_card(params, card, steps=state.step, mixed_precision=mixed_precision, num_classes=num_classes)
    model_dir = save_model(state.unet.eval(), noise_scheduler, workdir / "model", text)
    return TrainResult(model_dir, list(state.losses), started_from_step, state.step, str(device), mixed_precision)
