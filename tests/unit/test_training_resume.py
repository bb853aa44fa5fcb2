"""Checkpoints, cancellation and resume: a canceled training keeps its latest checkpoint and continues exactly."""

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from diffusers import UNet2DModel
from PIL import Image

from services.jobs.progress import JobCanceled, JobInterrupted, JobReleased, JobTimedOut
from services.training.checkpoints import latest_checkpoint, list_checkpoints
from services.training.data import TensorImages
from services.training.loop import TrainResult, train
from services.training.metrics import read_metrics
from services.training.params import TrainingParams

# Everything that draws random numbers or carries state is on: flips, label dropout, EMA, accumulation, grids.
PARAMS = TrainingParams(
    image_size=8, channels=3, batch_size=6, gradient_accumulation_steps=2, max_steps=16, learning_rate=1e-3,
    lr_warmup_steps=3, lr_scheduler="cosine", class_conditional=True, label_dropout=0.3, use_ema=True,
    checkpoint_every=5, sample_every=6, num_sample_images=4, sample_steps=2, seed=3,
)
CANCEL_AT = 7


class Reporter:
    """Records updates; raises ``stop`` after the step ``cancel_at`` as ProgressReporter does when asked to stop."""

    def __init__(self, cancel_at: int | None = None, stop: type[JobInterrupted] = JobCanceled) -> None:
        self.cancel_at, self.stop, self.steps = cancel_at, stop, []

    def update(self, step: int, total: int, **extra: Any) -> None:
        self.steps.append(step)
        if step == self.cancel_at:
            raise self.stop(f"stopped at step {step}")


def data() -> TensorImages:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(21, 3, 8, 8, generator=generator) * 2 - 1
    return TensorImages(images, torch.arange(21) % 3, 3)


class Run:
    """A run's result and what its callbacks saw."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.checkpoints, self.samples = workdir, [], []
        self.result: TrainResult | None = None

    def train(self, reporter: Reporter) -> TrainResult:
        self.result = train(PARAMS, data(), self.workdir, reporter, "cpu", card={"dataset": "noise"},
                            on_checkpoint=lambda step, path: self.checkpoints.append((step, path.name)),
                            on_samples=lambda step, path: self.samples.append((step, path.name)))
        return self.result


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Run:
    run = Run(tmp_path_factory.mktemp("uninterrupted"))
    run.train(Reporter())
    return run


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, list[str], list[str]]:
    """Canceled after step CANCEL_AT, then trained again in the same folder; also what the cancel left."""
    run = Run(tmp_path_factory.mktemp("resumed"))
    reporter = Reporter(cancel_at=CANCEL_AT)
    with pytest.raises(JobCanceled):
        run.train(reporter)
    assert reporter.steps == list(range(1, CANCEL_AT + 1))
    left = sorted(path.name for path in run.workdir.iterdir())
    kept = [path.name for path in list_checkpoints(run.workdir)]
    run.train(Reporter())
    return run, left, kept


def test_a_canceled_training_stops_at_the_next_step_and_keeps_a_checkpoint(resumed) -> None:
    run, left, kept = resumed
    assert kept == ["step-000005", f"step-{CANCEL_AT:06d}"]
    assert run.checkpoints[:2] == [(5, "step-000005"), (7, "step-000007")]
    assert "model" not in left and "metrics.csv" in left


@pytest.mark.parametrize("stop", [JobReleased, JobTimedOut])
def test_a_handed_back_or_timed_out_training_keeps_a_checkpoint_too(stop: type[JobInterrupted], tmp_path: Path) -> None:
    run = Run(tmp_path)
    with pytest.raises(stop):
        run.train(Reporter(cancel_at=3, stop=stop))
    assert [path.name for path in list_checkpoints(run.workdir)] == ["step-000003"]
    assert run.checkpoints == [(3, "step-000003")]


def test_resume_continues_from_the_checkpoint_with_the_same_losses(uninterrupted: Run, resumed) -> None:
    run, _, _ = resumed
    assert run.result.started_from_step == CANCEL_AT and run.result.steps == PARAMS.max_steps
    # Weights, optimizer, LR schedule, EMA, all random streams and the data position are restored, and CPU
    # kernels are deterministic for a fixed thread count, so the continuation is the same computation.
    assert run.result.losses == pytest.approx(uninterrupted.result.losses, abs=1e-5)
    ours = UNet2DModel.from_pretrained(run.result.model_dir, subfolder="unet").state_dict()
    theirs = UNet2DModel.from_pretrained(uninterrupted.result.model_dir, subfolder="unet").state_dict()
    assert all(torch.allclose(ours[name], theirs[name], atol=1e-5) for name in ours)


def test_metrics_have_one_row_per_step_after_a_resume(uninterrupted: Run, resumed) -> None:
    run, _, _ = resumed
    rows = read_metrics(run.workdir / "metrics.csv")
    assert [row["step"] for row in rows] == list(range(1, PARAMS.max_steps + 1))
    assert [row["loss"] for row in rows] == pytest.approx(uninterrupted.result.losses, abs=1e-5)
    assert rows[0]["lr"] == pytest.approx(0.0) and rows[3]["lr"] == pytest.approx(PARAMS.learning_rate)


def test_checkpoints_and_sample_grids_come_every_n_steps(uninterrupted: Run) -> None:
    assert uninterrupted.checkpoints == [(5, "step-000005"), (10, "step-000010"), (15, "step-000015"),
                                         (16, "step-000016")]
    assert [path.name for path in list_checkpoints(uninterrupted.workdir)] == ["step-000015", "step-000016"]
    assert uninterrupted.samples == [(6, "step-000006.png"), (12, "step-000012.png")]
    grid = Image.open(uninterrupted.workdir / "samples" / "step-000012.png")
    assert grid.size == (2 * 10 + 2, 2 * 10 + 2)  # 4 images of 8×8 in a 2×2 grid with 2-pixel padding


def test_a_checkpoint_is_a_plain_diffusers_unet_and_training_state(uninterrupted: Run) -> None:
    checkpoint = latest_checkpoint(uninterrupted.workdir)
    assert (checkpoint / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert UNet2DModel.from_pretrained(checkpoint / "unet").config.num_class_embeds == 4
    state = torch.load(checkpoint / "training_state.pt", weights_only=True)
    assert state["step"] == 16 and state["ema"]["optimization_step"] == 16
    assert {"optimizer", "lr_scheduler", "noise_generator", "batches", "torch_rng"} <= state.keys()


def test_the_loss_plot_is_a_png(uninterrupted: Run) -> None:
    with Image.open(uninterrupted.workdir / "loss.png") as image:
        image.verify()
        assert image.format == "PNG" and image.size[0] > 100


def test_half_written_checkpoints_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    (root / "step-000004").mkdir(parents=True)
    (root / "step-000004" / "training_state.pt").write_bytes(b"x")
    (root / "step-000009").mkdir()  # no state file: a copy that never finished
    (root / ".step-000012-abc").mkdir()  # a temporary folder of an interrupted save
    assert latest_checkpoint(tmp_path) == root / "step-000004"
    assert latest_checkpoint(tmp_path / "elsewhere") is None


def test_training_a_finished_run_again_only_writes_its_outputs_again(uninterrupted: Run, tmp_path: Path) -> None:
    workdir = shutil.copytree(uninterrupted.workdir, tmp_path / "copy")
    shutil.rmtree(workdir / "model")  # as if the worker died while exporting
    reporter = Reporter()
    again = train(PARAMS, data(), workdir, reporter, "cpu")
    assert reporter.steps == [] and again.started_from_step == again.steps == PARAMS.max_steps
    assert again.losses == uninterrupted.result.losses
    assert UNet2DModel.from_pretrained(again.model_dir, subfolder="unet").config.num_class_embeds == 4
