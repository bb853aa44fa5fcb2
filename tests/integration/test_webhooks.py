"""Job webhooks through real processes: the worker signs and POSTs events to a receiver on loopback."""

from datetime import datetime
from typing import Any

import pytest

from services.webhooks.signing import decode_secret, verify
from tests.integration.conftest import submit
from tests.integration.stack import Stack, wait_until
from tests.webhook_receiver import Receiver, Received

pytestmark = pytest.mark.integration


def signing_key(stack: Stack) -> bytes:
    with stack.client() as client:
        return decode_secret(client.get("/v1/webhooks/secret").json()["secret"])


def wait_for_event(stack: Stack, receiver: Receiver, event: str, timeout: float = 60) -> list[Received]:
    """Everything the receiver got, once it has accepted ``event``."""
    try:
        return wait_until(lambda: [r for r in receiver.received] if any(
            r.status == 200 and r.payload["type"] == event for r in receiver.received) else None,
            timeout, f"the receiver to accept {event}")
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{stack.logs()}") from None


def deliveries(stack: Stack, job_id: str) -> list[dict[str, Any]]:
    with stack.client() as client:
        return client.get(f"/v1/jobs/{job_id}/webhooks").json()["items"]


def test_a_sample_job_posts_started_progress_and_completed_signed(stack: Stack, model_id: str) -> None:
    with Receiver() as receiver:
        job = submit(stack, model_id=model_id, scheduler="ddpm", num_inference_steps=200, num_images=2,
                     webhook={"url": receiver.url(), "events": ["started", "progress", "completed"]})
        done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=300)
        received = wait_for_event(stack, receiver, "job.completed")
    assert done["status"] == "succeeded", done["error"]
    types = [r.payload["type"] for r in received]
    assert types[0] == "job.started" and types[-1] == "job.completed", types
    assert types.count("job.started") == types.count("job.completed") == 1 and "job.progress" in types
    assert set(types[1:-1]) == {"job.progress"}
    key = signing_key(stack)
    assert all(verify(key, r.headers, r.body) for r in received)
    assert len({r.headers["webhook-id"] for r in received}) == len(received)
    completed = received[-1].payload
    with stack.client() as client:
        assert completed["data"] == client.get(f"/v1/jobs/{job['id']}").json()  # the final job, as GET shows it
    assert completed["data"]["status"] == "succeeded" and len(completed["data"]["artifacts"]) == 3
    timestamps = [datetime.fromisoformat(r.payload["timestamp"]) for r in received]
    assert timestamps == sorted(timestamps)  # when each event happened, in order
    listed = deliveries(stack, job["id"])
    assert [d["id"] for d in listed] == [r.headers["webhook-id"] for r in received]
    assert {(d["status"], d["attempts"], d["response_status"]) for d in listed} == {("delivered", 1, 200)}


def test_a_failing_receiver_gets_the_event_later_and_never_delays_the_job(stack: Stack, model_id: str) -> None:
    with Receiver(lambda receiver, path, index: 500 if index < 2 else 200) as receiver:
        job = submit(stack, model_id=model_id, num_inference_steps=10,
                     webhook={"url": receiver.url(), "events": ["completed"]})
        done = stack.wait_for_job(job["id"], {"succeeded", "failed"})
        received = wait_for_event(stack, receiver, "job.completed")
    assert done["status"] == "succeeded", done["error"]
    assert [r.status for r in received] == [500, 500, 200]
    assert len({r.headers["webhook-id"] for r in received}) == 1  # one event, retried
    key = signing_key(stack)
    assert all(verify(key, r.headers, r.body) for r in received)
    finished = datetime.fromisoformat(done["finished_at"]).timestamp()
    assert finished <= received[0].at  # the job was done before its webhook was first tried
    # Backoff (DJ_WEBHOOK_RETRY_BASE_SECONDS=0.3 in tests): 0.3 s, then 0.6 s.
    assert received[1].at - received[0].at >= 0.29 and received[2].at - received[1].at >= 0.59
    (delivery,) = deliveries(stack, job["id"])
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == ("delivered", 3, 200)
    assert received[2].payload["data"]["status"] == "succeeded"
