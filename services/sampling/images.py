"""Tensors to pictures: the same conversion as diffusers' pipelines, grids, and encoding."""

import io
import math

import numpy as np
import torch
from PIL import Image

FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def to_pil(batch: torch.Tensor) -> list[Image.Image]:
    """[-1, 1] NCHW to PIL images, rounding exactly as ``DDPMPipeline`` does."""
    array = (batch / 2 + 0.5).clamp(0, 1).cpu().permute(0, 2, 3, 1).float().numpy()
    array = (array * 255).round().astype(np.uint8)
    if array.shape[-1] == 1:
        return [Image.fromarray(image.squeeze(-1), mode="L") for image in array]
    return [Image.fromarray(image) for image in array]


def grid(images: list[Image.Image], padding: int = 2) -> Image.Image:
    """The images side by side in a near-square grid."""
    columns = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    width, height = images[0].size
    canvas = Image.new(images[0].mode, (columns * (width + padding) + padding, rows * (height + padding) + padding))
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        canvas.paste(image, (padding + column * (width + padding), padding + row * (height + padding)))
    return canvas


def encode(image: Image.Image, output_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=FORMATS[output_format])
    return buffer.getvalue()
