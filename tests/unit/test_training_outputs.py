"""What a run leaves for people: the loss curve and the model card."""

import math
from pathlib import Path

import pytest
from PIL import Image

from services.training.metrics import MetricsLog, read_metrics
from services.training.modelcard import model_card
from services.training.params import TrainingParams
from services.training.plot import loss_curve, smoothed


@pytest.mark.parametrize("losses", [[], [0.5], [1.0, math.nan, 0.5, math.inf, 0.25], [0.3] * 50])
def test_loss_curve_is_a_valid_png_for_any_history(tmp_path: Path, losses: list[float]) -> None:
    path = loss_curve(losses, tmp_path / "loss.png")
    with Image.open(path) as image:
        image.verify()
        assert image.format == "PNG"
    assert not list(tmp_path.glob(".*"))  # the temporary file was renamed into place


def test_smoothing_is_bias_corrected() -> None:
    assert smoothed([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    assert smoothed([1.0, 0.0])[1] < 1.0


def test_metrics_log_keeps_the_history_it_resumes_from_and_drops_later_rows(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    with MetricsLog(path, [], []) as log:
        for step in range(1, 6):
            log.append(step, 1.0 / step, 1e-4)
    with MetricsLog(path, [1.0, 0.5], [1e-4, 1e-4]) as log:  # resumed from a checkpoint at step 2
        log.append(3, 0.125, 1e-4)
    assert [(row["step"], row["loss"]) for row in read_metrics(path)] == [(1, 1.0), (2, 0.5), (3, 0.125)]


def test_model_card_names_its_lineage_and_falls_back_to_the_params() -> None:
    params = TrainingParams(image_size=16, channels=1, max_steps=10)
    card = model_card(params, {"name": "digits-ft", "dataset": "digits", "base_model": "m-1", "note": "x"},
                      steps=10, mixed_precision="no")
    assert card.startswith("---\nlibrary_name: diffusers\n")
    assert 'base_model: "m-1"' in card and "# digits-ft" in card and "fine-tuned for 10 steps" in card
    assert "- Note: x" in card and "| max_steps | `10` |" in card
    bare = model_card(params, None, steps=10, mixed_precision="no")
    assert "Dataset: not recorded" in bare and "trained from scratch" in bare
