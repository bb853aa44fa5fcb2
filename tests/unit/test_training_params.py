"""Training parameters and UNet presets: defaults, validation, JSON round trip, image sizes."""

import inspect
import json
import subprocess
import sys

import pytest
import torch
from diffusers.optimization import SchedulerType, get_scheduler

from services.training.objective import resolve_mixed_precision
from services.training.params import FINETUNE_LEARNING_RATE, LR_SCHEDULERS, TrainingParams
from services.training.presets import (
    PRESETS, RESERVED_KEYS, UNET_ARGUMENTS, build_unet, check_image_size, check_unet_config, resolve_unet_config,
)


def test_defaults_follow_train_unconditional_and_the_course() -> None:
    params = TrainingParams()
    assert (params.learning_rate, params.lr_scheduler, params.lr_warmup_steps) == (1e-4, "cosine", 500)
    assert (params.adam_beta1, params.adam_beta2, params.adam_weight_decay, params.adam_epsilon) == \
        (0.95, 0.999, 1e-6, 1e-8)
    assert (params.use_ema, params.ema_inv_gamma, params.ema_power, params.ema_max_decay) == (True, 1.0, 0.75, 0.9999)
    assert FINETUNE_LEARNING_RATE == 1e-5


def test_params_round_trip_through_json() -> None:
    params = TrainingParams(image_size=16, preset="tiny", unet_config={"block_out_channels": (16, 32)},
                            class_conditional=True, lr_scheduler="constant_with_warmup", seed=7)
    again = TrainingParams.from_dict(json.loads(json.dumps(params.to_dict())))
    assert again == params
    assert again.unet_kwargs["block_out_channels"] == (16, 32)
    assert again.unet_kwargs["down_block_types"] == PRESETS["tiny"]["down_block_types"]


@pytest.mark.parametrize("change, message", [
    ({"beta_schedule": "cubic"}, "beta_schedule must be one of"),
    ({"max_steps": 0}, "max_steps must be at least 1"),
    ({"lr_scheduler": "piecewise_constant"}, "lr_scheduler must be one of"),
    ({"label_dropout": 1.0}, "label_dropout"),
    ({"max_steps": True}, "max_steps must be of type int"),
    ({"preset": "huge"}, "preset must be one of"),
    ({"unet_config": {"in_channels": 4}}, "may not set ['in_channels']"),
    ({"preset": "course", "image_size": 30}, "multiple of 8"),
])
def test_invalid_params_are_refused_with_a_message(change: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        TrainingParams(**change)
    assert message in str(error.value)


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown training parameters: \['max_step'\]"):
        TrainingParams.from_dict({"max_step": 10})


def test_warmup_is_clamped_to_max_steps() -> None:
    assert TrainingParams(max_steps=100).warmup_steps == 100
    assert TrainingParams(max_steps=1000, lr_warmup_steps=50).warmup_steps == 50


@pytest.mark.parametrize("name", LR_SCHEDULERS)
def test_every_lr_scheduler_name_is_one_diffusers_builds(name: str) -> None:
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    scheduler = get_scheduler(name, optimizer, num_warmup_steps=2, num_training_steps=10)
    optimizer.step()
    scheduler.step()


def test_lr_schedulers_are_all_of_diffusers_but_the_one_needing_step_rules() -> None:
    assert set(LR_SCHEDULERS) == {kind.value for kind in SchedulerType} - {"piecewise_constant"}


def test_check_image_size_follows_the_number_of_down_blocks() -> None:
    assert "multiple of 8" in check_image_size("course", 30)
    assert check_image_size("course", 32) is None
    assert check_image_size("tiny", 30) is None and check_image_size("tiny", 31) is not None
    assert check_image_size("large", 64) is None and "multiple of 32" in check_image_size("large", 48)


def test_build_unet_from_preset_and_from_overrides() -> None:
    unet = build_unet("course", 32, 3)
    assert tuple(unet.config.block_out_channels) == (64, 128, 128, 256)
    assert tuple(unet.config.down_block_types) == PRESETS["course"]["down_block_types"]
    assert unet.config.layers_per_block == 2 and unet.config.num_class_embeds is None
    custom = build_unet(resolve_unet_config("tiny", {"block_out_channels": [16, 32]}), 8, 1, num_class_embeds=11)
    assert tuple(custom.config.block_out_channels) == (16, 32)
    assert (custom.config.in_channels, custom.config.out_channels, custom.config.num_class_embeds) == (1, 1, 11)
    with pytest.raises(ValueError, match="multiple of 8"):
        build_unet("course", 30, 3)


def test_large_preset_is_train_unconditional_default() -> None:
    large = PRESETS["large"]
    assert large["block_out_channels"] == (128, 128, 256, 256, 512, 512) and large["layers_per_block"] == 2
    assert large["down_block_types"][4] == "AttnDownBlock2D" and large["up_block_types"][1] == "AttnUpBlock2D"


def test_mixed_precision_falls_back_to_full_precision_on_cpu() -> None:
    assert resolve_mixed_precision("fp16", torch.device("cpu")) == "no"
    assert resolve_mixed_precision("bf16", torch.device("cpu")) == "no"
    assert resolve_mixed_precision("no", torch.device("cpu")) == "no"


def test_params_and_presets_import_without_torch() -> None:
    # The API validates requests with them and must not import torch or diffusers.
    code = ("import sys, services.training.params, services.training.presets;"
            "print(sorted(m for m in ('torch', 'diffusers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_known_unet_arguments_are_unet2dmodels() -> None:
    from diffusers import UNet2DModel

    signature = set(inspect.signature(UNet2DModel.__init__).parameters) - {"self"}
    assert UNET_ARGUMENTS | RESERVED_KEYS == signature


@pytest.mark.parametrize("override, message", [
    ({"blocks": 3}, "does not take"),
    ({"block_out_channels": (32, 64, 64)}, "as many down_block_types"),
    ({"down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D")}, "unknown block types"),
    ({"norm_num_groups": 24}, "multiples of norm_num_groups"),
    ({"layers_per_block": 0}, "layers_per_block must be at least 1"),
])
def test_unet_config_that_would_not_build_is_refused_before_any_work(override: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        TrainingParams(unet_config=override)
    assert str(error.value).startswith("unet_config") and message in str(error.value)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_passes_the_unet_config_check(preset: str) -> None:
    assert check_unet_config(PRESETS[preset]) is None
