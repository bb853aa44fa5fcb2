"""Training, fine-tuning and class-conditioned jobs through the real API and worker, on built-in digits."""

import csv
import io
import signal
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import DDPMPipeline
from PIL import Image

from tests.integration.conftest import submit
from tests.integration.stack import Stack, wait_until

pytestmark = pytest.mark.integration

# The digits at their own 8×8 resolution and a UNet smaller than the tiny preset: seconds per hundred steps on a CPU.
TINY_DIGITS = {"dataset_id": "digits", "preset": "tiny", "image_size": 8, "batch_size": 16,
               "unet_config": {"block_out_channels": [16, 32], "norm_num_groups": 8},
               "learning_rate": 1e-3, "lr_warmup_steps": 20, "use_ema": False, "random_flip": False}


def train(stack: Stack, **body: Any) -> dict[str, Any]:
    with stack.client() as client:
        response = client.post("/v1/trainings", json=body)
    assert response.status_code == 202, response.text
    return response.json()


def losses_of(stack: Stack, job: dict[str, Any]) -> list[float]:
    metrics = next(a for a in job["artifacts"] if a["kind"] == "metrics")
    with stack.client() as client:
        rows = list(csv.DictReader(io.StringIO(client.get(metrics["url"]).text)))
    return [float(row["loss"]) for row in rows]


@pytest.fixture(scope="session")
def digits_model(stack: Stack) -> dict[str, Any]:
    """The tiny preset trained on digits for 300 steps (shared by the tests that use a trained model)."""
    job = train(stack, **TINY_DIGITS, max_steps=300, checkpoint_every=100, sample_every=150, name="digits-tiny")
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=600)
    assert done["status"] == "succeeded", done["error"]
    return done


def test_training_on_digits_lowers_the_loss_and_registers_a_model(stack: Stack, digits_model: dict) -> None:
    losses = losses_of(stack, digits_model)
    assert len(losses) == 300
    assert np.mean(losses[-50:]) < 0.6 * np.mean(losses[:50])
    kinds = {a["kind"] for a in digits_model["artifacts"]}
    assert {"metrics", "plot", "grid", "checkpoint"} <= kinds
    with stack.client() as client:
        model = client.get(f"/v1/models/{digits_model['model_id']}").json()
    assert (model["source_type"], model["source"]) == ("job", digits_model["id"])
    assert (model["sample_size"], model["in_channels"], model["num_class_embeds"]) == (8, 1, None)
    assert model["meta"]["dataset_id"] == "digits"


def test_plain_diffusers_loads_the_download_and_gives_the_service_pixels(
    stack: Stack, digits_model: dict, tmp_path: Path
) -> None:
    model_id = digits_model["model_id"]
    job = submit(stack, model_id=model_id, scheduler="ddpm", num_inference_steps=30, seed=99, num_images=2)
    done = stack.wait_for_job(job["id"], {"succeeded"})
    with stack.client() as client:
        archive = client.get(f"/v1/models/{model_id}/download")
        served = [np.asarray(Image.open(io.BytesIO(client.get(a["url"]).content)))
                  for a in done["artifacts"] if a["kind"] == "image"]
    zipfile.ZipFile(io.BytesIO(archive.content)).extractall(tmp_path)
    pipeline = DDPMPipeline.from_pretrained(next(tmp_path.iterdir()))
    theirs = pipeline(batch_size=2, generator=torch.Generator().manual_seed(99), num_inference_steps=30).images
    for ours, image in zip(served, theirs, strict=True):
        assert np.array_equal(ours, np.asarray(image))


def test_fine_tuning_on_an_uploaded_archive(stack: Stack, digits_model: dict, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(24):
            pixels = np.zeros((16, 16), np.uint8)
            pixels[:, index % 16] = 255  # vertical bars: nothing like a digit
            png = io.BytesIO()
            Image.fromarray(pixels).save(png, format="PNG")
            archive.writestr(f"bars/{index}.png", png.getvalue())
    with stack.client() as client:
        uploaded = client.post("/v1/datasets", files={"file": ("bars.zip", buffer.getvalue(), "application/zip")})
        assert uploaded.status_code == 201, uploaded.text
    job = train(stack, dataset_id=uploaded.json()["id"], base_model=digits_model["model_id"], max_steps=30,
                batch_size=8, checkpoint_every=100, sample_every=0)
    assert job["input"]["learning_rate"] == 1e-5 and job["input"]["image_size"] == 8
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=300)
    assert done["status"] == "succeeded", done["error"]
    with stack.client() as client:
        model = client.get(f"/v1/models/{done['model_id']}").json()
    assert model["meta"]["base_model"] == digits_model["model_id"]
    assert model["in_channels"] == 1 and model["sample_size"] == 8


def test_class_conditioned_training_and_sampling_by_label(stack: Stack) -> None:
    job = train(stack, **TINY_DIGITS, class_conditional=True, max_steps=60, checkpoint_every=100, sample_every=0)
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=300)
    assert done["status"] == "succeeded", done["error"]
    with stack.client() as client:
        model = client.get(f"/v1/models/{done['model_id']}").json()
    assert model["num_class_embeds"] == 11 and model["class_names"] == [str(d) for d in range(10)]
    sample = submit(stack, model_id=model["id"], num_images=3, class_labels=["3", 7, "0"], num_inference_steps=10)
    finished = stack.wait_for_job(sample["id"], {"succeeded"})
    labels = [a["meta"]["class_label"] for a in finished["artifacts"] if a["kind"] == "image"]
    assert labels == [3, 7, 0]
    # Classifier-free guidance: the model was trained with label dropout, so a scale > 1 is accepted and matters.
    common = {"model_id": model["id"], "num_images": 2, "class_labels": [1, 2], "num_inference_steps": 10, "seed": 4}
    plain, guided = (stack.wait_for_job(submit(stack, **common, **extra)["id"], {"succeeded"})
                     for extra in ({}, {"guidance_scale": 3.0}))
    with stack.client() as client:
        def pixels(job: dict[str, Any]) -> list[bytes]:
            return [client.get(a["url"]).content for a in job["artifacts"] if a["kind"] == "image"]

        assert pixels(plain) != pixels(guided)


def test_killed_worker_resumes_training_from_its_checkpoint(
    stack: Stack, recovery_time: Callable[[str, float], None]
) -> None:
    job = train(stack, **TINY_DIGITS, max_steps=240, checkpoint_every=50, sample_every=0)
    wait_until(lambda: stack.job(job["id"])["progress"]["step"] >= 110, 300, "training to pass step 110")
    stack.stop_workers(signal.SIGKILL)  # the whole worker, parent and child, with no chance to clean up
    restarted = time.monotonic()
    stack.start_worker()
    wait_until(lambda: stack.job(job["id"])["attempts"] == 2, 120, "the training to resume")
    recovery_time("new worker started -> training resumed", time.monotonic() - restarted)
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=600)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    assert done["progress"]["resumed_from_step"] >= 100
    assert len(losses_of(stack, done)) == 240  # every step once, none twice


def test_canceling_a_running_training_keeps_its_checkpoint_and_registers_no_model(stack: Stack) -> None:
    job = train(stack, **TINY_DIGITS, max_steps=5000, checkpoint_every=10_000, sample_every=0)
    with stack.client() as client:
        wait_until(lambda: client.get(f"/v1/jobs/{job['id']}").json()["progress"]["step"] >= 30, 300,
                   "training to pass step 30")
        assert client.post(f"/v1/jobs/{job['id']}/cancel").json()["result"] == "requested"
        done = stack.wait_for_job(job["id"], {"canceled", "succeeded", "failed"}, timeout=120)
        assert done["status"] == "canceled" and done["model_id"] is None
        # What a run keeps while it goes (checkpoints, grids, previews) stays; what only success makes does not.
        (checkpoint,) = done["artifacts"]
        assert checkpoint["kind"] == "checkpoint" and checkpoint["meta"]["step"] == done["progress"]["step"] >= 30
        download = client.get(checkpoint["url"])
        assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
        assert client.post(f"/v1/jobs/{job['id']}/cancel").json()["result"] == "already_final"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dataset_id": "nope"}, "dataset_id"),
        ({"base_model": "nope"}, "base_model"),
        # The course UNet halves the image 3 times: 20 is no multiple of 8.
        ({"preset": "course", "unet_config": None, "image_size": 20}, "image_size"),
        ({"class_conditional": True, "dataset_id": "ONE_CLASS"}, "class_conditional"),
        ({"max_steps": 0}, "max_steps"),
    ],
)
def test_bad_training_requests_name_the_field(stack: Stack, change: dict, field: str, tmp_path: Path) -> None:
    body = {**TINY_DIGITS, **change}
    if body["dataset_id"] == "ONE_CLASS":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for index in range(3):
                png = io.BytesIO()
                Image.new("L", (8, 8), index * 50).save(png, format="PNG")
                archive.writestr(f"only/{index}.png", png.getvalue())
        with stack.client() as client:
            body["dataset_id"] = client.post(
                "/v1/datasets", files={"file": ("one.zip", buffer.getvalue(), "application/zip")}).json()["id"]
    with stack.client() as client:
        response = client.post("/v1/trainings", json=body)
    assert response.status_code in (404, 422), response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
