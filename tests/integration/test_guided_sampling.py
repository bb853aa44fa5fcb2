"""Guided and conditioned sample jobs through the real API and worker."""

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.integration.conftest import submit
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

TARGET = np.array([0.1, 0.9, 0.5])


def images_of(stack: Stack, job: dict[str, Any]) -> np.ndarray:
    with stack.client() as client:
        return np.stack([np.asarray(Image.open(io.BytesIO(client.get(a["url"]).content)), dtype=np.float64) / 255
                         for a in job["artifacts"] if a["kind"] == "image"])


def color_distance(images: np.ndarray) -> float:
    return float(np.abs(images.mean(axis=(0, 1, 2)) - TARGET).mean())


def test_color_guidance_brings_the_images_closer_to_the_color(stack: Stack, model_id: str) -> None:
    base = {"model_id": model_id, "scheduler": "ddim", "num_inference_steps": 20, "seed": 5, "num_images": 2}
    jobs = [submit(stack, **base),
            submit(stack, **base, color_guidance={"color": "#1ae680", "scale": 5}),
            submit(stack, **base, color_guidance={"color": [0.1, 0.9, 0.5], "scale": 40}, preview_every=5)]
    plain, mild, strong = (stack.wait_for_job(job["id"], {"succeeded"}) for job in jobs)
    assert mild["input"]["color_guidance"]["color"] == pytest.approx([0.101961, 0.901961, 0.501961])
    distances = [color_distance(images_of(stack, job)) for job in (plain, mild, strong)]
    assert distances[2] < distances[1] < distances[0]
    previews = [a for a in strong["artifacts"] if a["kind"] == "preview"]
    assert [p["meta"]["step"] for p in previews] == [5, 10, 15, 20]
    assert strong["progress"]["preview_artifact_id"] == previews[-1]["id"]


def test_clip_guidance_runs_and_changes_the_images(stack: Stack, model_id: str) -> None:
    base = {"model_id": model_id, "scheduler": "ddpm", "num_inference_steps": 20, "seed": 3, "num_images": 2}
    plain = submit(stack, **base)
    guided = submit(stack, **base, clip_guidance={"prompt": "a red apple", "scale": 500, "num_cuts": 2})
    plain, guided = (stack.wait_for_job(job["id"], {"succeeded", "failed"}) for job in (plain, guided))
    assert guided["status"] == "succeeded", guided["error"]
    assert not np.array_equal(images_of(stack, plain), images_of(stack, guided))


@pytest.mark.parametrize(
    ("change", "field", "hint"),
    [
        ({"color_guidance": {"color": "#1ae680"}, "scheduler": "euler"}, "scheduler", "ddpm, ddim"),
        ({"clip_guidance": {"prompt": "x"}, "scheduler": "dpm_solver_multistep"}, "scheduler", "ddpm, ddim"),
        ({"color_guidance": {"color": "green"}}, "color_guidance.color", "#RRGGBB"),
        ({"color_guidance": {"color": [0.1, 2.0, 0.3]}}, "color_guidance.color", "[0, 1]"),
        ({"guidance_scale": 3.0}, "guidance_scale", "not class-conditioned"),
        ({"clip_guidance": {"prompt": "x", "num_cuts": 0}}, "clip_guidance.num_cuts", ""),
    ],
)
def test_guidance_that_cannot_give_a_right_picture_is_422(
    stack: Stack, model_id: str, change: dict, field: str, hint: str
) -> None:
    with stack.client() as client:
        response = client.post("/v1/samples", json={"model_id": model_id, **change})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == [field]
    assert hint in error["message"]
