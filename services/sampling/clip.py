"""CLIP as a guidance loss: how far generated images are from a text prompt, differentiable w.r.t. the images."""

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from huggingface_hub import constants as hub_constants
from transformers import AutoTokenizer, CLIPModel, PreTrainedTokenizerBase
from transformers.image_processing_base import ImageProcessingMixin

from services.jobs.runner import JobError
from services.lru import LRUCache

# OpenAI CLIP's preprocessing constants, used when a model folder has no image processor config.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ClipUnavailable(JobError):
    """The CLIP model could not be found, loaded, or fetched from the hub."""

    error_type = "clip_unavailable"


@dataclass
class ClipGuide:
    """A frozen CLIP model and its tokenizer, with the image size and normalisation its vision tower expects."""

    model: CLIPModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    image_size: int
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD

    @classmethod
    def load(cls, location: str | Path, device: torch.device, cache_dir: Path | None = None) -> "ClipGuide":
        """Load a CLIP model from a local folder or a hub id; any failure becomes ``ClipUnavailable``."""
        _check_local_folder(location)
        try:
            # float32 whatever the checkpoint's dtype: the guidance gradient is too small for half precision.
            model, info = CLIPModel.from_pretrained(
                location, cache_dir=cache_dir, dtype=torch.float32, output_loading_info=True,
            )
            tokenizer = AutoTokenizer.from_pretrained(location, cache_dir=cache_dir)
        except Exception as error:  # missing files, an unreachable hub, corrupt weights, a config of another model
            raise ClipUnavailable(_load_failure(location, error)) from error
        missing = [key for key in info.get("missing_keys", ()) if not key.endswith("position_ids")]
        if missing:  # transformers would otherwise guide with randomly initialised layers
            raise ClipUnavailable(
                f"{location} is not a CLIP model: {len(missing)} of its weights are missing "
                f"(for example {sorted(missing)[0]}); give a folder saved with CLIPModel.save_pretrained"
            )
        mean, std = _normalisation(location, cache_dir)
        try:
            model.to(device).eval().requires_grad_(False)
        except Exception as error:  # no such device, or too little memory on it
            raise ClipUnavailable(f"could not move the CLIP model {location} to {device}: {error}") from error
        return cls(model=model, tokenizer=tokenizer, device=device,
                   image_size=int(model.config.vision_config.image_size), mean=mean, std=std)

    @torch.no_grad()
    def text_features(self, prompt: str) -> torch.Tensor:
        """The prompt's CLIP embedding, 1×D; computed once per job."""
        max_length = min(self.tokenizer.model_max_length, self.model.config.text_config.max_position_embeddings)
        tokens = self.tokenizer(prompt, truncation=True, max_length=max_length, return_tensors="pt")
        output = self.model.get_text_features(
            input_ids=tokens["input_ids"].to(self.device), attention_mask=tokens["attention_mask"].to(self.device),
        )
        return _features(output)

    def loss_per_image(
        self, images: torch.Tensor, text_features: torch.Tensor, num_cuts: int, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Squared great-circle distance from each image (N×C×H×W in [-1, 1]) to the prompt, averaged over its cuts."""
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"CLIP guidance needs N×1×H×W or N×3×H×W images, got shape {tuple(images.shape)}")
        if num_cuts < 1:
            raise ValueError(f"num_cuts must be at least 1, got {num_cuts}")
        pixels = (images.to(self.device, torch.float32) + 1) / 2
        pixels = pixels.expand(-1, 3, -1, -1)  # grayscale to RGB; a no-op for RGB
        cuts = random_cuts(pixels, num_cuts, self.image_size, generator)
        mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)
        image_features = _features(self.model.get_image_features(pixel_values=(cuts - mean) / std))
        # The course's spherical distance loss (from Katherine Crowson's CLIP guided diffusion).
        input_normed = F.normalize(image_features.unsqueeze(1), dim=2)
        embed_normed = F.normalize(text_features.to(self.device).unsqueeze(0), dim=2)
        dists = input_normed.sub(embed_normed).norm(dim=2).div(2).arcsin().pow(2).mul(2)
        return dists.view(images.shape[0], num_cuts, -1).mean(dim=(1, 2))

    def loss(
        self, images: torch.Tensor, text_features: torch.Tensor, num_cuts: int, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The guidance loss: the mean over images and cuts, a scalar to differentiate w.r.t. the images."""
        return self.loss_per_image(images, text_features, num_cuts, generator).mean()


def random_cuts(pixels: torch.Tensor, num_cuts: int, size: int, generator: torch.Generator | None) -> torch.Tensor:
    """``num_cuts`` augmented size×size views of each image, image-major, as the course's torchvision transforms make.

    RandomResizedCrop(size), RandomAffine(5) and RandomHorizontalFlip(), rebuilt from differentiable ops (torchvision
    is not a dependency) with every random draw taken from ``generator`` so a seeded job repeats exactly.
    """
    crops, thetas = [], []
    for image in pixels.unbind(0):
        for _ in range(num_cuts):
            top, left, height, width = _crop_box(image.shape[-2], image.shape[-1], generator)
            crop = image[None, :, top:top + height, left:left + width]
            # Antialias only when shrinking: upsampling is the same without it, and its backward is CPU/CUDA only.
            antialias = height > size or width > size
            crops.append(F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias))
            thetas.append(_rotate_and_flip(generator))
    batch = torch.cat(crops)
    theta = torch.tensor(thetas, dtype=batch.dtype, device=batch.device)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    # Zero padding: the corners a rotation uncovers are black, as torchvision's RandomAffine fills them.
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    device = generator.device if generator is not None else None
    return torch.empty(1, device=device).uniform_(low, high, generator=generator).item()


def _randint(high: int, generator: torch.Generator | None) -> int:
    device = generator.device if generator is not None else None
    return int(torch.randint(0, high, (1,), generator=generator, device=device).item())


def _crop_box(
    height: int, width: int, generator: torch.Generator | None,
    scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop.get_params: (top, left, height, width) of a random area and aspect ratio."""
    area = height * width
    for _ in range(10):
        target_area = area * _uniform(*scale, generator)
        aspect = math.exp(_uniform(math.log(ratio[0]), math.log(ratio[1]), generator))
        w = round(math.sqrt(target_area * aspect))
        h = round(math.sqrt(target_area / aspect))
        if 0 < w <= width and 0 < h <= height:
            return _randint(height - h + 1, generator), _randint(width - w + 1, generator), h, w
    # Ten misses (a very wide or tall image): the largest centred crop within the allowed ratios.
    if width / height < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif width / height > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def _rotate_and_flip(generator: torch.Generator | None, degrees: float = 5.0) -> list[list[float]]:
    """An affine_grid matrix: a rotation of up to ``degrees`` either way, then a horizontal flip half the time."""
    angle = math.radians(_uniform(-degrees, degrees, generator))
    flip = -1.0 if _uniform(0.0, 1.0, generator) < 0.5 else 1.0
    cos, sin = math.cos(angle), math.sin(angle)
    return [[cos * flip, -sin, 0.0], [sin * flip, cos, 0.0]]


class ClipCache(LRUCache[ClipGuide]):
    """CLIP models a worker keeps loaded, least recently used evicted first, so each is loaded once."""

    def get(self, location: str | Path, device: torch.device, cache_dir: Path | None = None) -> ClipGuide:
        return self.get_or_load((str(location), str(device)), lambda: ClipGuide.load(location, device, cache_dir))


def _features(output: object) -> torch.Tensor:
    # transformers 4.x returns the projected features; 5.x returns an output whose pooler_output holds them.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _looks_local(location: str | Path) -> bool:
    text = str(location)
    return isinstance(location, Path) or text.startswith((".", "~")) or Path(text).is_absolute()


def _check_local_folder(location: str | Path) -> None:
    # Fail before transformers treats a mistyped path as a hub id and spends its retries on the network.
    if not _looks_local(location):
        return
    folder = Path(location).expanduser()
    if not folder.exists():
        raise ClipUnavailable(f"no CLIP model folder at {location}: give an existing folder or a hub id such as "
                              "openai/clip-vit-base-patch32")
    if not folder.is_dir():
        raise ClipUnavailable(f"{location} is a file, not a CLIP model folder (config.json, weights, tokenizer files)")


def _load_failure(location: str | Path, error: Exception) -> str:
    cause = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    if Path(str(location)).expanduser().is_dir():
        return (f"could not load the CLIP model in {location}: it needs config.json, the weights and the tokenizer "
                f"files that CLIPModel and CLIPTokenizer save_pretrained write ({cause})")
    if _offline():
        reason = ("the hub is in offline mode (HF_HUB_OFFLINE is set) and the model is not in the cache: unset "
                  "HF_HUB_OFFLINE where the hub can be reached, pre-fill the cache")
    else:
        reason = ("the Hugging Face hub could not be reached or has no such model: check the id and the network, "
                  "pre-fill the cache")
    return (f"could not load the CLIP model {location}: {reason}, or give a local folder saved with "
            f"CLIPModel.save_pretrained ({cause})")


def _offline() -> bool:
    return bool(hub_constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _normalisation(location: str | Path, cache_dir: Path | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and std of the saved image processor config, else CLIP's own."""
    try:
        config, _ = ImageProcessingMixin.get_image_processor_dict(str(location), cache_dir=cache_dir)
    except Exception:  # no preprocessor_config.json: the model still works with OpenAI's constants
        return CLIP_MEAN, CLIP_STD
    mean, std = config.get("image_mean"), config.get("image_std")
    if not (isinstance(mean, list | tuple) and isinstance(std, list | tuple) and len(mean) == 3 and len(std) == 3):
        return CLIP_MEAN, CLIP_STD
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)
