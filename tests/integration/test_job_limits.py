"""Per-job time limits and idempotent submission through the real API and worker."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import submit
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


def test_a_job_past_its_time_limit_fails_with_timeout_and_the_worker_goes_on(stack: Stack, model_id: str) -> None:
    job = submit(stack, model_id=model_id, scheduler="ddpm", num_inference_steps=1000, num_images=4,
                 time_limit_seconds=1)
    assert job["input"]["time_limit_seconds"] == 1
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=120)
    assert done["status"] == "failed" and done["error"]["type"] == "timeout", done
    assert "time limit of 1 s" in done["error"]["message"]
    assert done["progress"]["step"] < 1000 and done["artifacts"] == []
    assert done["metrics"]["run_s"] < 10
    later = submit(stack, model_id=model_id, num_inference_steps=5)
    assert stack.wait_for_job(later["id"], {"succeeded", "failed"})["status"] == "succeeded"
    assert later["input"]["time_limit_seconds"] == 86400  # the server's default


def test_a_time_limit_over_the_servers_bound_is_refused(stack: Stack, model_id: str) -> None:
    with stack.client() as client:
        response = client.post("/v1/samples", json={"model_id": model_id, "time_limit_seconds": 10**9})
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["time_limit_seconds"]


def test_concurrent_submissions_with_one_idempotency_key_make_one_job(stack: Stack, model_id: str) -> None:
    body = {"model_id": model_id, "num_inference_steps": 5}
    key = f"retry-{model_id}-{stack.api_port}"

    def post(_: int):
        with stack.client() as client:
            return client.post("/v1/samples", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(post, range(6)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert [r.headers.get("Idempotent-Replayed") for r in responses].count(None) == 1
    done = stack.wait_for_job(responses[0].json()["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded" and done["attempts"] == 1
