"""What a training step changes (weights, optimizer, LR schedule, EMA, random streams, data position), in one object.

Everything here goes into a checkpoint, so a resumed run draws the same batches, noise and timesteps as
an uninterrupted one would have.
"""

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers import UNet2DModel
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel

from services.training.data import Batches, TensorImages
from services.training.params import TrainingParams
from services.training.presets import build_unet, check_image_size


@dataclass
class TrainingState:
    """The model and everything a step updates; ``state_dict`` is all of it but the UNet's weights."""

    unet: UNet2DModel
    optimizer: torch.optim.Optimizer
    lr_scheduler: Any
    ema: EMAModel | None
    scaler: torch.amp.GradScaler | None
    noise_generator: torch.Generator
    batches: Batches
    step: int = 0
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "noise_generator": self.noise_generator.get_state(),
            "batches": self.batches.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
            "losses": torch.tensor(self.losses, dtype=torch.float64),
            "lrs": torch.tensor(self.lrs, dtype=torch.float64),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from ``state_dict`` output loaded onto the CPU."""
        self.step = state["step"]
        self.optimizer.load_state_dict(state["optimizer"])  # moves its tensors to the parameters' device
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
            self.ema.to(device=self.unet.device)
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.noise_generator.set_state(state["noise_generator"])
        self.batches.load_state_dict(state["batches"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.losses, self.lrs = state["losses"].tolist(), state["lrs"].tolist()


def prepare_unet(params: TrainingParams, data: TensorImages, base_unet: UNet2DModel | None) -> UNet2DModel:
    """A copy of ``base_unet`` to fine-tune (never the caller's object), or a new one seeded from the params."""
    num_class_embeds = data.num_classes + 1 if params.class_conditional else None
    if base_unet is None:
        with torch.random.fork_rng(devices=[]):  # seeded weights without moving the caller's global RNG
            torch.manual_seed(params.seed)
            return build_unet(params.unet_kwargs, params.image_size, params.channels, num_class_embeds)
    config = base_unet.config
    if config.in_channels != params.channels:
        raise ValueError(f"the base model takes {config.in_channels} channels, the data has {params.channels}")
    if config.num_class_embeds != num_class_embeds:
        raise ValueError(f"the base model has num_class_embeds={config.num_class_embeds}; this run needs "
                         f"{num_class_embeds} ({'classes + 1 null class' if num_class_embeds else 'unconditional'})")
    error = check_image_size(dict(config), params.image_size)
    if error:
        raise ValueError(error)
    unet = copy.deepcopy(base_unet).to(torch.float32)
    # The model now generates at the size it was fine-tuned on.
    unet.register_to_config(sample_size=params.image_size)
    return unet


def build_state(
    params: TrainingParams, data: TensorImages, device: torch.device, mixed_precision: str,
    base_unet: UNet2DModel | None = None,
) -> TrainingState:
    """A fresh run's state at step 0, everything seeded from ``params.seed``."""
    unet = prepare_unet(params, data, base_unet).to(device).train()
    optimizer = torch.optim.AdamW(
        unet.parameters(), lr=params.learning_rate, betas=(params.adam_beta1, params.adam_beta2),
        weight_decay=params.adam_weight_decay, eps=params.adam_epsilon,
    )
    lr_scheduler = get_scheduler(params.lr_scheduler, optimizer, num_warmup_steps=params.warmup_steps,
                                 num_training_steps=params.max_steps)
    ema = None
    if params.use_ema:
        ema = EMAModel(unet.parameters(), decay=params.ema_max_decay, use_ema_warmup=True,
                       inv_gamma=params.ema_inv_gamma, power=params.ema_power, foreach=True,
                       model_cls=UNet2DModel, model_config=unet.config)
    scaler = torch.amp.GradScaler(device.type) if mixed_precision == "fp16" else None
    # Two streams: the data order does not shift when, say, label dropout changes how much noise is drawn.
    data_generator = torch.Generator("cpu").manual_seed(params.seed)
    noise_generator = torch.Generator(device).manual_seed(params.seed + 1)
    batches = data.batches(params.batch_size, data_generator, random_flip=params.random_flip)
    return TrainingState(unet, optimizer, lr_scheduler, ema, scaler, noise_generator, batches)
