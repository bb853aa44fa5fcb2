"""UNet2DModel architectures by name, and the image sizes each can take.

Plain data and arithmetic at import time: the API validates a request with ``check_image_size`` without
importing torch or diffusers, so ``build_unet`` imports diffusers only when it is called.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffusers import UNet2DModel

PRESETS: dict[str, dict[str, Any]] = {
    # Small enough to train a few hundred steps on a CPU in a test.
    "tiny": {
        "layers_per_block": 1,
        "block_out_channels": (32, 64),
        "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
        "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
        "norm_num_groups": 8,
    },
    # The Hugging Face Diffusion Models Course's butterflies UNet (unit 1).
    "course": {
        "layers_per_block": 2,
        "block_out_channels": (64, 128, 128, 256),
        "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
        "up_block_types": ("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    },
    # diffusers' examples/unconditional_image_generation/train_unconditional.py default.
    "large": {
        "layers_per_block": 2,
        "block_out_channels": (128, 128, 256, 256, 512, 512),
        "down_block_types": ("DownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D",
                             "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"),
    },
}

# The training parameters decide these; a preset or an override naming them would be ambiguous.
RESERVED_KEYS = frozenset({"sample_size", "in_channels", "out_channels", "num_class_embeds"})
# UNet2DModel's other arguments (a unit test compares them with its signature).
UNET_ARGUMENTS = frozenset({
    "center_input_sample", "time_embedding_type", "time_embedding_dim", "freq_shift", "flip_sin_to_cos",
    "down_block_types", "mid_block_type", "up_block_types", "block_out_channels", "layers_per_block",
    "mid_block_scale_factor", "downsample_padding", "downsample_type", "upsample_type", "dropout", "act_fn",
    "attention_head_dim", "norm_num_groups", "attn_norm_num_groups", "norm_eps", "resnet_time_scale_shift",
    "add_attention", "class_embed_type", "num_train_timesteps",
})
DOWN_BLOCKS = frozenset({"DownBlock2D", "AttnDownBlock2D", "ResnetDownsampleBlock2D", "SkipDownBlock2D",
                         "AttnSkipDownBlock2D"})
UP_BLOCKS = frozenset({"UpBlock2D", "AttnUpBlock2D", "ResnetUpsampleBlock2D", "SkipUpBlock2D", "AttnSkipUpBlock2D"})

UnetSpec = str | Mapping[str, Any]


def resolve_unet_config(preset: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The preset's UNet2DModel keyword arguments with ``overrides`` applied on top (lists become tuples)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown UNet preset {preset!r}; choose one of {sorted(PRESETS)}")
    overrides = dict(overrides or {})
    reserved = RESERVED_KEYS & overrides.keys()
    if reserved:
        raise ValueError(f"unet_config may not set {sorted(reserved)}: they come from the training parameters")
    merged = {**PRESETS[preset], **overrides}
    return {key: tuple(value) if isinstance(value, list) else value for key, value in merged.items()}


def check_unet_config(config: Mapping[str, Any]) -> str | None:
    """Why these UNet2DModel arguments would not build a model, checked without building one; None when they would."""
    unknown = sorted(config.keys() - UNET_ARGUMENTS)
    if unknown:
        return f"unet_config has arguments UNet2DModel does not take or the run sets itself: {unknown}"
    down, up = list(config.get("down_block_types", ())), list(config.get("up_block_types", ()))
    channels = list(config.get("block_out_channels", ()))
    if not down or not len(down) == len(up) == len(channels):
        return "unet_config needs as many down_block_types, up_block_types and block_out_channels, at least one"
    unknown_blocks = sorted(set(down) - DOWN_BLOCKS) + sorted(set(up) - UP_BLOCKS)
    if unknown_blocks:
        return (f"unet_config has unknown block types {unknown_blocks}; "
                f"down blocks: {sorted(DOWN_BLOCKS)}, up blocks: {sorted(UP_BLOCKS)}")
    groups = config.get("norm_num_groups", 32)
    if not all(isinstance(c, int) and c > 0 and isinstance(groups, int) and groups > 0 and c % groups == 0
               for c in channels):
        return f"unet_config block_out_channels must be positive multiples of norm_num_groups ({groups})"
    layers = config.get("layers_per_block", 2)
    if not isinstance(layers, int) or layers < 1:
        return "unet_config layers_per_block must be at least 1"
    return None


def _config(spec: UnetSpec) -> Mapping[str, Any]:
    return resolve_unet_config(spec) if isinstance(spec, str) else spec


def downsample_factor(spec: UnetSpec) -> int:
    """How many times smaller the UNet's innermost feature map is than its input: 2 per down block but the last."""
    blocks = _config(spec).get("down_block_types", ())
    return 2 ** max(len(blocks) - 1, 0)


def check_image_size(spec: UnetSpec, image_size: int) -> str | None:
    """A message saying why ``image_size`` does not fit the UNet, or None when it does."""
    factor = downsample_factor(spec)
    if image_size <= 0 or image_size % factor:
        return (f"image_size {image_size} must be a positive multiple of {factor}: the UNet halves the image "
                f"{factor.bit_length() - 1} times")
    return None


def build_unet(spec: UnetSpec, sample_size: int, channels: int, num_class_embeds: int | None = None) -> "UNet2DModel":
    """A UNet2DModel with random weights from a preset name or a full keyword-argument dict."""
    from diffusers import UNet2DModel

    error = check_unet_config(_config(spec)) or check_image_size(spec, sample_size)
    if error:
        raise ValueError(error)
    return UNet2DModel(sample_size=sample_size, in_channels=channels, out_channels=channels,
                       num_class_embeds=num_class_embeds, **_config(spec))
