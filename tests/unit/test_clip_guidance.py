"""CLIP guidance's loss: a tiny random CLIP loaded from a folder, its cuts, its gradient, and how loading fails."""

import json
import shutil
import time
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from transformers import AutoTokenizer

from services.sampling.clip import CLIP_MEAN, CLIP_STD, ClipCache, ClipGuide, ClipUnavailable, random_cuts
from tests.clip_factory import IMAGE_SIZE, PROJECTION_DIM, save_tiny_clip

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="module")
def guide(clip_dir: Path) -> ClipGuide:
    return ClipGuide.load(clip_dir, CPU)


@pytest.fixture(scope="module")
def prompt_features(guide: ClipGuide) -> torch.Tensor:
    return guide.text_features("a red apple")


def images(batch: int = 2, channels: int = 3, size: int = 24, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, channels, size, size, generator=generator) * 2 - 1).requires_grad_()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_tiny_clip_tokenizer_round_trips_a_prompt(clip_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(clip_dir)
    ids = tokenizer("a red apple")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["<|startoftext|>", "a</w>", "red</w>", "apple</w>", "<|endoftext|>"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a red apple"


def test_tiny_clip_loads_frozen_from_its_folder(guide: ClipGuide) -> None:
    assert guide.image_size == IMAGE_SIZE
    assert not guide.model.training
    assert not any(parameter.requires_grad for parameter in guide.model.parameters())
    assert guide.mean == pytest.approx(CLIP_MEAN) and guide.std == pytest.approx(CLIP_STD)


def test_normalisation_comes_from_the_saved_image_processor_else_clip_defaults(clip_dir: Path, tmp_path: Path) -> None:
    custom = shutil.copytree(clip_dir, tmp_path / "custom")
    config = json.loads((custom / "preprocessor_config.json").read_text())
    config.update(image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25])
    (custom / "preprocessor_config.json").write_text(json.dumps(config))
    assert ClipGuide.load(custom, CPU).mean == (0.5, 0.5, 0.5)

    bare = shutil.copytree(clip_dir, tmp_path / "bare")
    (bare / "preprocessor_config.json").unlink()
    loaded = ClipGuide.load(bare, CPU)
    assert (loaded.mean, loaded.std) == (CLIP_MEAN, CLIP_STD)


def test_text_features_have_the_projection_dim(guide: ClipGuide, prompt_features: torch.Tensor) -> None:
    assert prompt_features.shape == (1, PROJECTION_DIM)
    assert not prompt_features.requires_grad
    assert not torch.equal(prompt_features, guide.text_features("a green pear"))


def test_loss_is_a_finite_scalar_with_a_gradient_for_the_images(guide: ClipGuide, prompt_features: torch.Tensor) -> None:
    batch = images()
    loss = guide.loss(batch, prompt_features, num_cuts=4, generator=seeded(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    (gradient,) = torch.autograd.grad(loss, batch)
    assert gradient.shape == batch.shape
    assert gradient.abs().sum() > 0


def test_loss_is_the_mean_of_the_per_image_losses(guide: ClipGuide, prompt_features: torch.Tensor) -> None:
    batch = images(batch=3)
    per_image = guide.loss_per_image(batch, prompt_features, num_cuts=2, generator=seeded(5))
    assert per_image.shape == (3,)
    loss = guide.loss(batch, prompt_features, num_cuts=2, generator=seeded(5))
    assert loss.item() == pytest.approx(per_image.mean().item())


def test_same_seed_gives_the_same_loss_and_another_seed_other_cuts(guide: ClipGuide, prompt_features: torch.Tensor) -> None:
    batch = images()
    first = guide.loss(batch, prompt_features, num_cuts=3, generator=seeded(1))
    again = guide.loss(batch, prompt_features, num_cuts=3, generator=seeded(1))
    other = guide.loss(batch, prompt_features, num_cuts=3, generator=seeded(2))
    assert torch.equal(first, again)
    assert first != other
    pixels = (batch.detach() + 1) / 2
    assert torch.equal(random_cuts(pixels, 3, IMAGE_SIZE, seeded(1)), random_cuts(pixels, 3, IMAGE_SIZE, seeded(1)))
    assert not torch.equal(random_cuts(pixels, 3, IMAGE_SIZE, seeded(1)), random_cuts(pixels, 3, IMAGE_SIZE, seeded(2)))


def test_cuts_are_image_major_views_of_the_model_size() -> None:
    pixels = torch.stack([torch.zeros(3, 20, 20), torch.ones(3, 20, 20)])
    cuts = random_cuts(pixels, 2, 8, seeded(0))
    assert cuts.shape == (4, 3, 8, 8)
    # Centres survive a rotation of at most 5 degrees: the first image's cuts are black, the second's white.
    assert cuts[:2, :, 3:5, 3:5].max() == 0 and cuts[2:, :, 3:5, 3:5].min() == pytest.approx(1)


def test_grayscale_images_are_guided_as_rgb(guide: ClipGuide, prompt_features: torch.Tensor) -> None:
    gray = images(channels=1, size=20)
    loss = guide.loss(gray, prompt_features, num_cuts=2, generator=seeded(0))
    (gradient,) = torch.autograd.grad(loss, gray)
    assert gradient.shape == gray.shape and gradient.abs().sum() > 0
    as_rgb = gray.detach().repeat(1, 3, 1, 1)
    assert loss.item() == pytest.approx(guide.loss(as_rgb, prompt_features, num_cuts=2, generator=seeded(0)).item())


def test_images_of_other_channel_counts_are_refused(guide: ClipGuide, prompt_features: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="N×1×H×W or N×3×H×W"):
        guide.loss(images(channels=4), prompt_features, num_cuts=1)


def test_gradient_descent_on_the_images_lowers_the_loss(guide: ClipGuide, prompt_features: torch.Tensor) -> None:
    """What guidance relies on: stepping the images against the gradient brings them closer to the prompt."""
    batch = images(batch=2, size=32).detach()

    def evaluate(x: torch.Tensor) -> float:
        with torch.no_grad():
            return guide.loss(x, prompt_features, num_cuts=8, generator=seeded(123)).item()

    before = evaluate(batch)
    for step in range(5):
        batch.requires_grad_()
        loss = guide.loss(batch, prompt_features, num_cuts=4, generator=seeded(step))
        (gradient,) = torch.autograd.grad(loss, batch)
        batch = (batch - 50 * gradient).detach()  # the tiny random CLIP has small gradients: a large step
    assert evaluate(batch) < before - 0.01


def test_a_tensor_from_get_image_features_is_accepted(guide: ClipGuide, prompt_features: torch.Tensor, monkeypatch) -> None:
    batch = images()
    expected = guide.loss(batch, prompt_features, num_cuts=2, generator=seeded(0))
    original = guide.model.get_image_features
    monkeypatch.setattr(guide.model, "get_image_features", lambda **kwargs: original(**kwargs).pooler_output)
    assert guide.loss(batch, prompt_features, num_cuts=2, generator=seeded(0)).item() == pytest.approx(expected.item())


def test_a_missing_folder_is_clip_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ClipUnavailable, match="no CLIP model folder at") as raised:
        ClipGuide.load(tmp_path / "missing", CPU)
    assert raised.value.error_type == "clip_unavailable"
    assert "openai/clip-vit-base-patch32" in str(raised.value)


def test_a_folder_of_garbage_is_clip_unavailable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{ not json")
    (tmp_path / "model.safetensors").write_bytes(b"\x00garbage" * 64)
    with pytest.raises(ClipUnavailable, match="could not load the CLIP model in .*config.json"):
        ClipGuide.load(tmp_path, CPU)


def test_a_clip_folder_with_corrupt_weights_is_clip_unavailable(clip_dir: Path, tmp_path: Path) -> None:
    broken = shutil.copytree(clip_dir, tmp_path / "broken")
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 64)
    with pytest.raises(ClipUnavailable, match="could not load the CLIP model in"):
        ClipGuide.load(broken, CPU)


def test_a_folder_of_another_model_is_clip_unavailable(tiny_model_dir: Path) -> None:
    with pytest.raises(ClipUnavailable):
        ClipGuide.load(tiny_model_dir / "unet", CPU)
    with pytest.raises(ClipUnavailable):
        ClipGuide.load(tiny_model_dir, CPU)


def test_a_hub_id_offline_is_clip_unavailable_quickly(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    started = time.monotonic()
    with pytest.raises(ClipUnavailable, match="could not load the CLIP model openai/clip-vit-base-patch32") as raised:
        ClipGuide.load("openai/clip-vit-base-patch32", CPU, cache_dir=tmp_path / "hub-cache")
    assert time.monotonic() - started < 5
    assert "offline" in str(raised.value) and "local folder" in str(raised.value)


def test_clip_cache_loads_each_model_once_and_evicts_the_least_recent(clip_dir: Path, tmp_path: Path) -> None:
    other = shutil.copytree(clip_dir, tmp_path / "other")
    cache = ClipCache(capacity=1)
    first = cache.get(clip_dir, CPU)
    assert cache.get(clip_dir, CPU) is first
    assert cache.loads == 1
    cache.get(other, CPU)
    assert cache.get(clip_dir, CPU) is not first
    assert cache.loads == 3


def test_clip_cache_does_not_remember_failures(tmp_path: Path) -> None:
    cache = ClipCache(capacity=2)
    with pytest.raises(ClipUnavailable):
        cache.get(tmp_path / "missing", CPU)
    assert cache.loads == 0
    save_tiny_clip(tmp_path / "missing")
    assert cache.get(tmp_path / "missing", CPU).image_size == IMAGE_SIZE


def test_cuts_of_a_very_wide_image_fall_back_to_a_centred_crop() -> None:
    pixels = torch.rand(1, 3, 4, 200, requires_grad=True)
    cuts = random_cuts(pixels, 3, 16, seeded(0))
    assert cuts.shape == (3, 3, 16, 16)
    (gradient,) = torch.autograd.grad(cuts.sum(), pixels)
    assert gradient[..., :90].abs().sum() == 0  # only the centred 4×5 crop is seen
