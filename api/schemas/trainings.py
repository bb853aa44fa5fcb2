"""The training request: from scratch, fine-tuning (base_model), class-conditioned."""

from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.schemas.job_options import JobOptions


class TrainingRequest(JobOptions):
    """Train a UNet2DModel with DDPM on a dataset. Defaults follow diffusers' train_unconditional.py."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"dataset_id": "digits", "preset": "tiny", "image_size": 16, "max_steps": 300, "name": "digits-tiny"},
            {"dataset_id": "digits", "class_conditional": True, "preset": "tiny", "image_size": 16, "max_steps": 500},
            {"dataset_id": "0b6f3c2e9d7a4c1e8f5a2b3c4d5e6f70", "base_model": "5d0c9e8f7a6b4c3d2e1f0a9b8c7d6e5f",
             "max_steps": 200},
        ]},
    )

    dataset_id: str = Field(description="A dataset id (GET /v1/datasets), e.g. the built-in `digits`.")
    base_model: str | None = Field(
        None, description="Fine-tune this registered model (same architecture, new data). Omitted: from scratch. "
        "To fine-tune a hub model, register it first (POST /v1/models with hub_id).",
    )
    name: str | None = Field(None, max_length=255, description="Name of the model the training registers.")
    preset: Literal["tiny", "course", "large"] = Field(
        "course", description="From scratch: `tiny` (fast, for CPUs and tests), `course` (the course's UNet, "
        "block_out_channels 64,128,128,256), `large` (train_unconditional.py's default).",
    )
    unet_config: dict[str, Any] | None = Field(
        None, description="From scratch: UNet2DModel keyword arguments that override the preset.",
    )
    image_size: int | None = Field(
        None, ge=8, description="Training resolution. Default: 32, or the base model's size when fine-tuning.",
    )
    channels: Literal[1, 3] | None = Field(
        None, description="1 for grayscale, 3 for color. Default: 1 for digits, 3 otherwise; the base model's when "
        "fine-tuning.",
    )
    class_conditional: bool = Field(
        False, description="Condition on the dataset's labels (UNet2DModel(num_class_embeds=N+1)); needs >= 2 classes.",
    )
    label_dropout: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share of labels replaced by 'no label', so classifier-free guidance works.",
    )
    num_train_timesteps: int = Field(1000, ge=10, le=10000, description="DDPMScheduler timesteps.")
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = Field(
        "linear", description="DDPMScheduler beta schedule."
    )
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = Field("epsilon", description="What the UNet predicts.")
    batch_size: int = Field(16, ge=1, description="Images per step (before gradient accumulation).")
    gradient_accumulation_steps: int = Field(1, ge=1, le=1024, description="Micro-batches per optimizer step.")
    max_steps: int = Field(1000, ge=1, description="Optimizer steps to train.")
    learning_rate: float | None = Field(
        None, gt=0, le=1, description="AdamW learning rate. Default: 1e-4 from scratch, 1e-5 when fine-tuning.",
    )
    lr_scheduler: Literal["linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
                          "constant_with_warmup"] = Field("cosine", description="Learning-rate schedule.")
    lr_warmup_steps: int = Field(500, ge=0, description="Warm-up steps (capped at max_steps).")
    adam_beta1: float = Field(0.95, gt=0, lt=1)
    adam_beta2: float = Field(0.999, gt=0, lt=1)
    adam_weight_decay: float = Field(1e-6, ge=0)
    adam_epsilon: float = Field(1e-8, gt=0)
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    use_ema: bool = Field(True, description="Keep an exponential moving average of the weights; the model uses it.")
    ema_inv_gamma: float = Field(1.0, gt=0)
    ema_power: float = Field(0.75, gt=0)
    ema_max_decay: float = Field(0.9999, gt=0, lt=1)
    mixed_precision: Literal["no", "fp16", "bf16"] = Field(
        "no", description="Autocast precision where the worker's device supports it (else full precision)."
    )
    random_flip: bool | None = Field(
        None, description="Random horizontal flips. Default: on for color data, off for grayscale (digits).",
    )
    seed: int = Field(0, ge=0, lt=2**31, description="Seeds weights, noise, timesteps and batches.")
    checkpoint_every: int = Field(500, ge=1, description="Steps between checkpoints (resume points).")
    sample_every: int = Field(500, ge=0, description="Steps between sample grids; 0 for none.")
    num_sample_images: int = Field(16, ge=1, le=64, description="Images in each sample grid.")
