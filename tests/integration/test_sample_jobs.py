"""A sample job through real processes: HTTP -> database -> broker -> worker -> files -> HTTP."""

import io
import json
from typing import Any

import pytest
from PIL import Image

from tests.integration.conftest import submit
from tests.integration.stack import Stack, wait_until

pytestmark = pytest.mark.integration


def image_bytes(stack: Stack, job: dict[str, Any]) -> list[bytes]:
    with stack.client() as client:
        return [client.get(a["url"]).content for a in job["artifacts"] if a["kind"] == "image"]


def test_sample_job_produces_images_and_a_grid(stack: Stack, model_id: str) -> None:
    job = submit(stack, model_id=model_id, scheduler="ddim", num_inference_steps=20, seed=7, num_images=3)
    assert job["status"] in {"queued", "running"} and job["input"]["seed"] == 7  # a fast worker may have it already
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done["error"]
    kinds = sorted(a["kind"] for a in done["artifacts"])
    assert kinds == ["grid", "image", "image", "image"]
    with stack.client() as client:
        for artifact in done["artifacts"]:
            response = client.get(artifact["url"])
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/png"
            image = Image.open(io.BytesIO(response.content))
            assert image.format == "PNG" and image.mode == "RGB"
            if artifact["kind"] == "image":
                assert image.size == (16, 16)
            else:
                assert image.size == (2 * 18 + 2, 2 * 18 + 2)  # 3 images in a 2x2 grid with 2px padding
            assert client.get(f"/v1/artifacts/{artifact['id']}").json()["media_type"] == "image/png"
    assert done["progress"]["step"] == done["progress"]["total"] == 20
    assert done["progress"]["fraction"] == 1.0
    assert done["metrics"]["queue_s"] >= 0 and done["metrics"]["run_s"] > 0
    assert done["attempts"] == 1


@pytest.mark.parametrize("scheduler", ["ddpm", "euler_ancestral"])
def test_same_seed_gives_the_same_pixels_and_another_seed_does_not(
    stack: Stack, model_id: str, scheduler: str
) -> None:
    def run(seed: int) -> list[bytes]:
        job = submit(stack, model_id=model_id, scheduler=scheduler, num_inference_steps=25, seed=seed, num_images=2)
        return image_bytes(stack, stack.wait_for_job(job["id"], {"succeeded"}))

    first, again, other = run(123), run(123), run(124)
    assert first == again
    assert first[0] != other[0] and first[1] != other[1]
    assert first[0] != first[1]  # the images of one batch differ from each other too


def test_progress_is_visible_while_the_job_runs(stack: Stack, model_id: str) -> None:
    job = submit(stack, model_id=model_id, scheduler="ddpm", num_inference_steps=400, num_images=2)
    with stack.client() as client:
        def mid_run() -> dict[str, Any] | None:
            current = client.get(f"/v1/jobs/{job['id']}").json()
            progress = current["progress"]
            return current if current["status"] == "running" and 0 < progress["step"] < 400 else None

        seen = wait_until(mid_run, 120, "progress of a running job", interval=0.02)
    assert seen["progress"]["total"] == 400
    assert seen["progress"]["eta_s"] is not None and seen["progress"]["eta_s"] > 0
    assert stack.wait_for_job(job["id"], {"succeeded"}, timeout=300)["progress"]["step"] == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scheduler": "nope"}, "scheduler"),
        ({"num_images": 17}, "num_images"),
        ({"num_images": 0}, "num_images"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"num_inference_steps": -3}, "num_inference_steps"),
        ({"model_id": "no-such-model"}, "model_id"),
        ({"scheduler": "euler", "eta": 0.5}, "eta"),
        ({"output_format": "gif"}, "output_format"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_sample_requests_get_a_4xx_naming_the_field(
    stack: Stack, model_id: str, change: dict[str, Any], field: str
) -> None:
    with stack.client() as client:
        response = client.post("/v1/samples", json={"model_id": model_id, **change})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_input"
    assert error["message"].startswith(f"{field}: ") or f"{field}: " in error["message"]
    assert [f["field"] for f in error["fields"]] == [field]


def test_cancel_a_queued_job(stack: Stack, model_id: str) -> None:
    stack.stop_workers()
    try:
        job = submit(stack, model_id=model_id, num_inference_steps=5)
        with stack.client() as client:
            first = client.post(f"/v1/jobs/{job['id']}/cancel").json()
            again = client.post(f"/v1/jobs/{job['id']}/cancel").json()
        assert first["result"] == "canceled" and first["job"]["status"] == "canceled"
        assert again["result"] == "already_final" and again["job"]["status"] == "canceled"
    finally:
        stack.start_worker()
    # The worker receives the canceled job's message first, finds nothing to claim, and moves on.
    later = submit(stack, model_id=model_id, num_inference_steps=5)
    assert stack.wait_for_job(later["id"], {"succeeded"})["status"] == "succeeded"
    with stack.client() as client:
        canceled = client.get(f"/v1/jobs/{job['id']}").json()
    assert (canceled["status"], canceled["attempts"], canceled["artifacts"]) == ("canceled", 0, [])


def test_cancel_a_running_job_stops_it_without_artifacts(stack: Stack, model_id: str) -> None:
    job = submit(stack, model_id=model_id, scheduler="ddpm", num_inference_steps=1000, num_images=4)
    with stack.client() as client:
        wait_until(lambda: client.get(f"/v1/jobs/{job['id']}").json()["progress"]["step"] > 0, 120, "the job to run")
        assert client.post(f"/v1/jobs/{job['id']}/cancel").json()["result"] == "requested"
    done = stack.wait_for_job(job["id"], {"canceled", "succeeded", "failed"})
    assert done["status"] == "canceled"
    assert done["progress"]["step"] < 1000 and done["artifacts"] == []


def test_events_stream_the_job_from_current_state_to_its_end(stack: Stack, model_id: str) -> None:
    job = submit(stack, model_id=model_id, scheduler="ddpm", num_inference_steps=300, num_images=2)
    events: list[tuple[str, dict[str, Any]]] = []
    with stack.client() as client, client.stream("GET", f"/v1/jobs/{job['id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    names = [name for name, _ in events]
    assert names[0] in {"queued", "running", "progress"} and names[-1] == "succeeded"
    assert "progress" in names
    steps = [data["progress"]["step"] for name, data in events if name == "progress"]
    assert steps == sorted(steps) and 0 < steps[0] <= steps[-1] <= 300
    assert len(events[-1][1]["artifacts"]) == 3
    with stack.client() as client:  # a client that connects after the end gets the final state at once
        with client.stream("GET", f"/v1/jobs/{job['id']}/events") as again:
            lines = [line for line in again.iter_lines() if line.startswith("event: ")]
        assert lines == ["event: succeeded"]
        assert client.get("/v1/jobs/nope/events").status_code == 404
