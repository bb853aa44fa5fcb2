"""The training loop on a tiny UNet and tiny images: it learns, repeats itself, and leaves a loadable model."""

from pathlib import Path
from typing import Any

import pytest
import torch
from diffusers import DDPMPipeline, UNet2DModel

from services.training.data import TensorImages
from services.training.loop import train
from services.training.params import TrainingParams
from tests.factories import tiny_unet

FAST = dict(image_size=8, batch_size=8, learning_rate=1e-3, lr_warmup_steps=2, sample_every=0, checkpoint_every=0)


class Recorder:
    """A reporter that remembers every update."""

    def __init__(self) -> None:
        self.updates: list[tuple[int, int, dict[str, Any]]] = []

    def update(self, step: int, total: int, **extra: Any) -> None:
        self.updates.append((step, total, extra))


def patterns(count: int = 4, copies: int = 16, channels: int = 1, size: int = 8, seed: int = 0) -> TensorImages:
    """``copies`` of ``count`` fixed black-and-white patterns, labelled by pattern: easy to learn."""
    generator = torch.Generator().manual_seed(seed)
    shapes = (torch.rand(count, channels, size, size, generator=generator) > 0.5).float() * 2 - 1
    return TensorImages(shapes.repeat(copies, 1, 1, 1), torch.arange(count).repeat(copies), count)


def test_loss_falls_on_a_learnable_dataset(tmp_path: Path) -> None:
    params = TrainingParams(**{**FAST, "batch_size": 16}, channels=1, max_steps=100, use_ema=False,
                            lr_scheduler="constant_with_warmup", random_flip=False)
    reporter = Recorder()
    result = train(params, patterns(), tmp_path, reporter, "cpu")
    first, last = sum(result.losses[:10]) / 10, sum(result.losses[-10:]) / 10
    assert last < 0.5 * first, (first, last)
    assert [(step, total) for step, total, _ in reporter.updates] == [(s, 100) for s in range(1, 101)]
    assert [extra["loss"] for _, _, extra in reporter.updates] == result.losses
    assert (result.started_from_step, result.steps, result.device, result.mixed_precision) == (0, 100, "cpu", "no")


def test_the_same_seed_gives_identical_losses(tmp_path: Path) -> None:
    params = TrainingParams(**FAST, channels=1, max_steps=6, class_conditional=True, use_ema=True)
    first = train(params, patterns(), tmp_path / "a", Recorder(), "cpu").losses
    second = train(params, patterns(), tmp_path / "b", Recorder(), "cpu").losses
    other = train(TrainingParams(**{**params.to_dict(), "seed": 1}), patterns(), tmp_path / "c", Recorder(), "cpu")
    assert first == second
    assert other.losses != first


def test_the_model_folder_loads_with_plain_diffusers(tmp_path: Path) -> None:
    params = TrainingParams(**FAST, channels=3, max_steps=3, beta_schedule="squaredcos_cap_v2")
    result = train(params, patterns(channels=3), tmp_path, Recorder(), "cpu",
                   card={"dataset": "patterns", "training_job": "job-1"})
    assert result.model_dir == tmp_path / "model"
    pipeline = DDPMPipeline.from_pretrained(result.model_dir)
    assert pipeline.scheduler.config.beta_schedule == "squaredcos_cap_v2"
    assert pipeline.unet.config.sample_size == 8 and pipeline.unet.config.num_class_embeds is None
    images = pipeline(batch_size=1, num_inference_steps=2, generator=torch.manual_seed(0), output_type="np").images
    assert images.shape == (1, 8, 8, 3)
    card = (result.model_dir / "README.md").read_text()
    assert "library_name: diffusers" in card and 'datasets: ["patterns"]' in card
    assert "Training job: job-1" in card and "DDPMPipeline.from_pretrained" in card
    assert "| beta_schedule | `squaredcos_cap_v2` |" in card


def test_a_class_conditional_model_has_one_more_class_embedding_for_the_null_label(tmp_path: Path) -> None:
    params = TrainingParams(**FAST, channels=1, max_steps=2, class_conditional=True, label_dropout=0.5)
    result = train(params, patterns(count=5), tmp_path, Recorder(), "cpu", card={"class_names": list("abcde")})
    unet = UNet2DModel.from_pretrained(result.model_dir, subfolder="unet")
    assert unet.config.num_class_embeds == 5 + 1
    card = (result.model_dir / "README.md").read_text()
    assert "class_labels=labels" in card and "0 = a, 1 = b" in card


def test_the_model_holds_the_ema_weights(tmp_path: Path) -> None:
    params = TrainingParams(**FAST, channels=1, max_steps=4, use_ema=True, ema_max_decay=0.5)
    result = train(params, patterns(), tmp_path, Recorder(), "cpu")
    saved = UNet2DModel.from_pretrained(result.model_dir, subfolder="unet").state_dict()
    trained = UNet2DModel.from_pretrained(tmp_path / "checkpoints" / "step-000004" / "unet").state_dict()
    assert any(not torch.equal(saved[name], trained[name]) for name in saved)


def test_fine_tuning_keeps_the_base_architecture_and_leaves_the_base_untouched(tmp_path: Path) -> None:
    base = tiny_unet(sample_size=8, channels=1)
    before = {name: value.clone() for name, value in base.state_dict().items()}
    params = TrainingParams(**FAST, channels=1, max_steps=2)
    result = train(params, patterns(), tmp_path, Recorder(), "cpu", base_unet=base, card={"base_model": "tiny-base"})
    tuned = UNet2DModel.from_pretrained(result.model_dir, subfolder="unet")
    assert tuple(tuned.config.block_out_channels) == (16, 32)  # the base's, not the tiny preset's (32, 64)
    assert all(torch.equal(before[name], value) for name, value in base.state_dict().items())
    assert 'base_model: "tiny-base"' in (result.model_dir / "README.md").read_text()


def test_fine_tuning_refuses_a_base_with_other_conditioning(tmp_path: Path) -> None:
    params = TrainingParams(**FAST, channels=1, max_steps=1, class_conditional=True)
    with pytest.raises(ValueError, match="num_class_embeds"):
        train(params, patterns(), tmp_path, Recorder(), "cpu", base_unet=tiny_unet(sample_size=8, channels=1))


@pytest.mark.parametrize("prediction_type", ["sample", "v_prediction"])
def test_other_prediction_types_train_and_are_saved(tmp_path: Path, prediction_type: str) -> None:
    params = TrainingParams(**FAST, channels=1, max_steps=2, prediction_type=prediction_type)
    result = train(params, patterns(), tmp_path, Recorder(), "cpu")
    assert all(torch.isfinite(torch.tensor(result.losses)))
    assert DDPMPipeline.from_pretrained(result.model_dir).scheduler.config.prediction_type == prediction_type


def test_fp16_on_cpu_falls_back_to_full_precision_and_says_so(tmp_path: Path) -> None:
    params = TrainingParams(**FAST, channels=1, max_steps=1, mixed_precision="fp16")
    result = train(params, patterns(), tmp_path, Recorder(), "cpu")
    assert result.mixed_precision == "no"
    assert "asked for fp16, not supported" in (result.model_dir / "README.md").read_text()


@pytest.mark.parametrize("change, message", [
    ({"image_size": 16}, "the data is 1×8×8"),
    ({"class_conditional": True}, "needs labelled data"),
])
def test_data_that_does_not_fit_the_params_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    data = patterns()
    if "class_conditional" in change:
        data = TensorImages(data.images)
    params = TrainingParams(**{**FAST, **change}, channels=1, max_steps=1)
    with pytest.raises(ValueError, match=message):
        train(params, data, tmp_path, Recorder(), "cpu")
