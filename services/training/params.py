"""Everything a training run is told, with the defaults of diffusers' train_unconditional.py and the course.

Plain data: the API validates a request by constructing ``TrainingParams`` without importing torch.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any

from services.training.presets import PRESETS, check_image_size, check_unet_config, resolve_unet_config

# The course fine-tunes a pretrained model at a tenth of the from-scratch rate so it keeps what it knew.
FINETUNE_LEARNING_RATE = 1e-5

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")
# diffusers.optimization.SchedulerType without piecewise_constant, which needs step rules we do not take.
LR_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup")
MIXED_PRECISION = ("no", "fp16", "bf16")
_ACCEPTED_TYPES: dict[type, tuple[type, ...]] = {int: (int,), float: (int, float), bool: (bool,), str: (str,)}


@dataclass(frozen=True)
class TrainingParams:
    """The hyperparameters of one training or fine-tuning run; invalid values raise ValueError."""

    image_size: int = 32
    channels: int = 3
    preset: str = "tiny"
    unet_config: dict[str, Any] | None = None
    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"
    prediction_type: str = "epsilon"
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_steps: int = 1000
    learning_rate: float = 1e-4
    lr_scheduler: str = "cosine"
    lr_warmup_steps: int = 500
    adam_beta1: float = 0.95
    adam_beta2: float = 0.999
    adam_weight_decay: float = 1e-6
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    use_ema: bool = True
    ema_inv_gamma: float = 1.0
    ema_power: float = 0.75
    ema_max_decay: float = 0.9999
    mixed_precision: str = "no"
    random_flip: bool = True
    class_conditional: bool = False
    label_dropout: float = 0.1
    seed: int = 0
    checkpoint_every: int = 500
    sample_every: int = 500
    num_sample_images: int = 16
    sample_steps: int = 50

    def __post_init__(self) -> None:
        if isinstance(self.unet_config, dict):
            # Lists become tuples so parameters read back from JSON equal the ones written.
            normalised = {key: tuple(value) if isinstance(value, list) else value
                          for key, value in self.unet_config.items()}
            object.__setattr__(self, "unet_config", normalised)
        problems = _problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def unet_kwargs(self) -> dict[str, Any]:
        """The UNet2DModel architecture: the preset with ``unet_config`` on top."""
        return resolve_unet_config(self.preset, self.unet_config)

    @property
    def warmup_steps(self) -> int:
        """LR warmup, clamped so a short run is not all warmup beyond its end."""
        return min(self.lr_warmup_steps, self.max_steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples as lists)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.unet_config is not None:
            values["unet_config"] = {key: list(value) if isinstance(value, tuple) else value
                                     for key, value in self.unet_config.items()}
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainingParams":
        """Parameters from ``to_dict`` output or a request; unknown names are an error, not silently ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training parameters: {unknown}")
        return cls(**values)


def _type_problems(params: TrainingParams) -> list[str]:
    errors = []
    for f in dataclasses.fields(params):
        accepted = _ACCEPTED_TYPES.get(f.type)  # type: ignore[arg-type]
        value = getattr(params, f.name)
        # bool is an int to Python, but `max_steps: true` is a mistake, not 1.
        if accepted and (not isinstance(value, accepted) or (f.type is not bool and isinstance(value, bool))):
            errors.append(f"{f.name} must be of type {f.type.__name__}, not {type(value).__name__}")
    if params.unet_config is not None and not isinstance(params.unet_config, dict):
        errors.append("unet_config must be an object of UNet2DModel arguments")
    return errors


def _problems(params: TrainingParams) -> list[str]:
    """Every reason the parameters cannot run, each message starting with the field it is about."""
    problems = _type_problems(params)
    if problems:
        return problems  # range checks on values of the wrong type would only add confusion
    at_least_one = ("image_size", "channels", "num_train_timesteps", "batch_size", "gradient_accumulation_steps",
                    "max_steps", "num_sample_images", "sample_steps")
    problems += [f"{name} must be at least 1" for name in at_least_one if getattr(params, name) < 1]
    not_negative = ("lr_warmup_steps", "checkpoint_every", "sample_every", "max_grad_norm", "seed",
                    "adam_weight_decay", "adam_epsilon")
    problems += [f"{name} must not be negative" for name in not_negative if getattr(params, name) < 0]
    positive = ("learning_rate", "ema_inv_gamma", "ema_power")
    problems += [f"{name} must be positive" for name in positive if not getattr(params, name) > 0]
    for name, low, high in (("adam_beta1", 0, 1), ("adam_beta2", 0, 1), ("label_dropout", 0, 1)):
        if not low <= getattr(params, name) < high:
            problems.append(f"{name} must be in [{low}, {high})")
    if not 0 < params.ema_max_decay <= 1:
        problems.append("ema_max_decay must be in (0, 1]")
    if params.seed >= 2**63:  # the noise stream is seeded with seed + 1
        problems.append("seed must be below 2**63")
    for name, allowed in (("beta_schedule", BETA_SCHEDULES), ("prediction_type", PREDICTION_TYPES),
                          ("lr_scheduler", LR_SCHEDULERS), ("mixed_precision", MIXED_PRECISION)):
        if getattr(params, name) not in allowed:
            problems.append(f"{name} must be one of {list(allowed)}, not {getattr(params, name)!r}")
    if params.preset not in PRESETS:
        problems.append(f"preset must be one of {sorted(PRESETS)}, not {params.preset!r}")
        return problems
    try:
        config = params.unet_kwargs
    except ValueError as error:  # an override naming a reserved key
        return [*problems, str(error)]
    problem = check_unet_config(config) or check_image_size(config, params.image_size)
    return [*problems, problem] if problem else problems
