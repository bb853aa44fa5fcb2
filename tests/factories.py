"""Tiny models and rows for tests. Nothing here downloads anything."""

from pathlib import Path

import torch
from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel


def tiny_unet(sample_size: int = 16, channels: int = 3, num_class_embeds: int | None = None, seed: int = 0) -> UNet2DModel:
    """A UNet2DModel small enough to run 50 steps in well under a second on a CPU, with random weights."""
    torch.manual_seed(seed)
    return UNet2DModel(
        sample_size=sample_size, in_channels=channels, out_channels=channels, layers_per_block=1,
        block_out_channels=(16, 32), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8, num_class_embeds=num_class_embeds,
    )


def save_tiny_pipeline(folder: Path, **unet_options) -> Path:
    """A diffusers pipeline folder (model_index.json, unet/, scheduler/) as save_pretrained writes it."""
    DDPMPipeline(unet=tiny_unet(**unet_options), scheduler=DDPMScheduler(num_train_timesteps=1000)).save_pretrained(folder)
    return folder
