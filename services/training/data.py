"""A dataset decoded once into tensors, and the endless stream of shuffled, flipped batches the loop reads.

train_unconditional.py decodes, resizes and normalises every image again in every epoch; an in-memory
dataset needs that only once, so a training step is two tensor indexings and (maybe) a flip.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

PIL_MODES = {1: "L", 3: "RGB"}


def prepare_image(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """One picture as train_unconditional.py prepares it: shorter side resized, centre-cropped, CHW in [-1, 1]."""
    image = image.convert(PIL_MODES[channels])
    scale = size / min(image.size)
    width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
    image = image.resize((width, height), Image.Resampling.BILINEAR)
    left, top = (width - size) // 2, (height - size) // 2
    image = image.crop((left, top, left + size, top + size))
    array = np.asarray(image, dtype=np.float32).reshape(size, size, channels)
    # Transposed numpy arrays keep HWC memory order, which torch would see as channels_last.
    return np.ascontiguousarray(array.transpose(2, 0, 1)) / 127.5 - 1.0


@dataclass
class TensorImages:
    """N×C×H×W float images in [-1, 1], with optional long labels in [0, num_classes)."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    num_classes: int | None = None

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or not self.images.is_floating_point() or len(self.images) == 0:
            raise ValueError(f"images must be a non-empty float N×C×H×W tensor, not {tuple(self.images.shape)}")
        if self.images.shape[2] != self.images.shape[3]:
            raise ValueError("images must be square")
        if self.labels is None:
            return
        if self.labels.shape != (len(self.images),) or self.labels.dtype != torch.long:
            raise ValueError("labels must be one long tensor entry per image")
        if self.num_classes is None:
            self.num_classes = int(self.labels.max()) + 1
        if int(self.labels.min()) < 0 or int(self.labels.max()) >= self.num_classes:
            raise ValueError(f"labels must lie in [0, {self.num_classes})")

    @classmethod
    def from_pil(cls, images: Sequence[Image.Image], size: int, channels: int,
                 labels: Sequence[int] | None = None, num_classes: int | None = None) -> "TensorImages":
        """Decode, resize and normalise every picture once."""
        array = np.stack([prepare_image(image, size, channels) for image in images])
        label_tensor = torch.tensor(list(labels), dtype=torch.long) if labels is not None else None
        return cls(torch.from_numpy(array), label_tensor, num_classes)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return self.images.shape[-1]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    def to(self, device: torch.device | str) -> "TensorImages":
        """The same images on ``device`` (moved once, so batches are cut where the model runs), contiguous NCHW.

        Images that arrive channels_last (as numpy HWC data often does) would make every batch channels_last,
        which measured ~8% slower per step on a CPU than the contiguous layout of the UNet's weights.
        """
        labels = self.labels.to(device) if self.labels is not None else None
        images = self.images.to(device, torch.float32).contiguous()
        return TensorImages(images, labels, self.num_classes)

    def batches(self, batch_size: int, generator: torch.Generator, *, random_flip: bool = True) -> "Batches":
        """Random batches forever, drawn with ``generator`` (a CPU generator)."""
        return Batches(self, batch_size, generator, random_flip)


class Batches(Iterator[tuple[torch.Tensor, torch.Tensor | None]]):
    """Epoch after epoch of fresh permutations; a batch may straddle two epochs so every batch is full.

    ``state_dict`` holds the generator, the current permutation and the position in it: a resumed run
    continues with exactly the batches the interrupted one would have drawn.
    """

    def __init__(self, data: TensorImages, batch_size: int, generator: torch.Generator, random_flip: bool) -> None:
        self.data, self.batch_size, self.generator, self.random_flip = data, batch_size, generator, random_flip
        self.permutation = torch.empty(0, dtype=torch.long)
        self.position = 0
        self.epoch = 0

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        indices = self._next_indices().to(self.data.images.device)
        images = self.data.images[indices]
        if self.random_flip:
            flip = torch.rand(len(indices), generator=self.generator) < 0.5
            images = torch.where(flip.to(images.device).view(-1, 1, 1, 1), images.flip(-1), images)
        labels = self.data.labels[indices] if self.data.labels is not None else None
        return images, labels

    def _next_indices(self) -> torch.Tensor:
        parts, needed = [], self.batch_size
        while needed:
            if self.position == len(self.permutation):
                self.permutation = torch.randperm(len(self.data), generator=self.generator)
                self.position, self.epoch = 0, self.epoch + 1
            part = self.permutation[self.position:self.position + needed]
            parts.append(part)
            self.position += len(part)
            needed -= len(part)
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "permutation": self.permutation.clone(),
                "position": self.position, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.permutation, self.position, self.epoch = state["permutation"], state["position"], state["epoch"]
