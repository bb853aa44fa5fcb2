"""The dispatcher against a real receiver on loopback: signed deliveries, retries with backoff, giving up,
several senders at once, and a receiver that hangs."""

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db import session_scope
from services.db.models import Job, WebhookDelivery, utcnow
from services.jobs import lifecycle
from services.jobs.states import JobKind
from services.settings import Settings
from services.webhooks.deliveries import Outcome, claim_due, record_outcome, retry_delay
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.signing import owner_key, verify
from tests.webhook_receiver import Receiver, always


def render(session: Session, job: Job) -> dict[str, Any]:
    return {"id": job.id, "status": job.status}


def settings(**values: Any) -> Settings:
    defaults = {"webhook_retry_base_seconds": 0.2, "webhook_poll_interval_seconds": 0.02,
                "webhook_timeout_seconds": 5.0, "webhook_max_attempts": 8}
    return Settings(**{**defaults, **values})


@pytest.fixture
def start(data_dir: Path) -> Iterator[Callable[..., Dispatcher]]:
    """Starts dispatchers; all are stopped at the end of the test."""
    running: list[Dispatcher] = []

    def start_dispatcher(render: Callable = render, **values: Any) -> Dispatcher:
        dispatcher = Dispatcher(render, settings(**values)).start()
        running.append(dispatcher)
        return dispatcher

    yield start_dispatcher
    for dispatcher in running:
        dispatcher.stop()


def new_job(owner: str = "alice") -> str:
    with session_scope() as session:
        return lifecycle.create_job(session, owner=owner, kind=JobKind.SAMPLE, input={"seed": 1}).id


def add_delivery(url: str, job_id: str | None = None, event: str = "completed", created_at: Any = None) -> str:
    with session_scope() as session:
        delivery = WebhookDelivery(job_id=job_id or new_job(), owner="alice", event=event, url=url,
                                   status="pending", attempts=0, next_attempt_at=utcnow(),
                                   created_at=created_at or utcnow())
        session.add(delivery)
        session.flush()
        return delivery.id


def load(delivery_id: str) -> WebhookDelivery:
    with session_scope() as session:
        return session.get(WebhookDelivery, delivery_id)


def wait_for_status(delivery_id: str, status: str, timeout: float = 20) -> WebhookDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = load(delivery_id)
        if delivery.status == status:
            return delivery
        time.sleep(0.01)
    raise AssertionError(f"delivery {delivery_id} is {load(delivery_id).status}, not {status}, after {timeout}s")


def test_a_delivery_reaches_the_receiver_signed(start: Callable[..., Dispatcher]) -> None:
    with Receiver() as receiver:
        delivery_id = add_delivery(receiver.url())
        dispatcher = start()
        delivery = wait_for_status(delivery_id, "delivered")
        (request,) = receiver.wait_for(1, 5)
    assert (delivery.attempts, delivery.response_status, delivery.last_error) == (1, 200, None)
    assert delivery.delivered_at is not None and delivery.locked_until is None
    assert request.headers["webhook-id"] == delivery_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    assert request.headers["content-type"] == "application/json"
    assert verify(owner_key(dispatcher.settings.secret_key, "alice"), request.headers, request.body)
    assert not verify(owner_key(dispatcher.settings.secret_key, "bob"), request.headers, request.body)
    payload = request.payload
    assert payload["type"] == "job.completed"
    assert payload["timestamp"] == delivery.created_at.isoformat().replace("+00:00", "Z")
    assert payload["data"] == {"id": delivery.job_id, "status": "queued"}  # the job as the renderer shows it


def test_failed_attempts_are_retried_with_backoff_until_the_receiver_accepts(
    start: Callable[..., Dispatcher]
) -> None:
    answers = [500, 200]
    with Receiver(lambda receiver, path, index: answers[index], listening=False) as receiver:
        delivery_id = add_delivery(receiver.url())
        start(webhook_retry_base_seconds=0.3)
        deadline = time.monotonic() + 10
        while "refused" not in (load(delivery_id).last_error or "").lower() and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = load(delivery_id)
        assert refused.status == "pending" and refused.response_status is None
        assert "ConnectError" in refused.last_error
        receiver.listen()
        delivery = wait_for_status(delivery_id, "delivered")
        first, second = receiver.wait_for(2, 5)
    assert [first.status, second.status] == [500, 200]
    assert len(receiver.received) == 2 and delivery.attempts >= 3  # one or more refused, a 500, then accepted
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery_id  # receivers can dedupe
    # The retry after the n-th failure waits base·2^(n-1): at least 0.3·2^(attempts-2) s between the two answers.
    assert second.at - first.at >= 0.3 * 2 ** (delivery.attempts - 2) * 0.99
    assert (delivery.response_status, delivery.last_error) == (200, None)


def test_a_delivery_is_given_up_after_max_attempts(start: Callable[..., Dispatcher]) -> None:
    with Receiver(always(500)) as receiver:
        delivery_id = add_delivery(receiver.url())
        start(webhook_retry_base_seconds=0.02, webhook_max_attempts=3)
        delivery = wait_for_status(delivery_id, "failed")
        time.sleep(0.2)  # nothing more arrives once it is given up
    assert len(receiver.received) == 3 and delivery.attempts == 3
    assert delivery.response_status == 500 and delivery.last_error == "HTTP 500: no"


def test_gone_means_no_more_attempts(start: Callable[..., Dispatcher]) -> None:
    with Receiver(always(410)) as receiver:
        delivery_id = add_delivery(receiver.url())
        start()
        delivery = wait_for_status(delivery_id, "failed")
    assert (delivery.attempts, delivery.response_status, len(receiver.received)) == (1, 410, 1)


def test_retry_delay_doubles_up_to_the_cap() -> None:
    for attempt, base in ((1, 2.0), (2, 4.0), (3, 8.0)):
        assert base <= retry_delay(attempt, 2.0, 3600) <= base * 1.1
    assert retry_delay(30, 2.0, 3600) == 3600


def test_a_failed_attempt_is_scheduled_by_its_number(data_dir: Path) -> None:
    delivery_id = add_delivery("http://127.0.0.1:9/hook")
    config = settings(webhook_retry_base_seconds=10, webhook_retry_max_seconds=25)
    for attempt, wait in ((1, 10), (2, 20), (3, 25)):
        with session_scope() as session:
            session.get(WebhookDelivery, delivery_id).next_attempt_at = utcnow()
        with session_scope() as session:
            assert claim_due(session, 5, 60) == [delivery_id]
            assert claim_due(session, 5, 60) == []  # locked
            before = utcnow()
            assert record_outcome(session, delivery_id, attempt, Outcome(False, 503, "HTTP 503"), config) == "pending"
        delivery = load(delivery_id)
        assert delivery.attempts == attempt and delivery.locked_until is None
        assert timedelta(seconds=wait) <= delivery.next_attempt_at - before <= timedelta(seconds=wait * 1.1 + 1)
    with session_scope() as session:  # a sender whose claim was taken over changes nothing
        record_outcome(session, delivery_id, 1, Outcome(True, 200), config)
    assert load(delivery_id).status == "pending"


def test_two_dispatchers_send_each_event_once_and_each_jobs_events_in_order(
    start: Callable[..., Dispatcher]
) -> None:
    def slow_ok(receiver: Receiver, path: str, index: int) -> int:
        receiver.hang(0.01)  # long enough for the senders to overlap
        return 200

    with Receiver(slow_ok) as receiver:
        expected: dict[str, list[str]] = {}
        base = utcnow()
        for _ in range(8):
            job_id = new_job()
            expected[job_id] = [
                add_delivery(receiver.url(f"/{job_id}"), job_id, event, created_at=base + timedelta(milliseconds=i))
                for i, event in enumerate(["started", "progress", "progress", "completed"])
            ]
        start(), start()
        received = receiver.wait_for(32, 30)
        time.sleep(0.3)  # a duplicate would arrive now
        assert len(receiver.received) == 32
    ids = [request.headers["webhook-id"] for request in received]
    assert len(set(ids)) == 32
    for job_id, deliveries in expected.items():
        assert [r.headers["webhook-id"] for r in received if r.path == f"/{job_id}"] == deliveries
    with session_scope() as session:
        rows = session.scalars(select(WebhookDelivery)).all()
        assert {(row.status, row.attempts) for row in rows} == {("delivered", 1)}


def test_a_hanging_receiver_holds_up_no_other_delivery(start: Callable[..., Dispatcher]) -> None:
    def answer(receiver: Receiver, path: str, index: int) -> int:
        if path == "/hang":
            receiver.hang(30)
        return 200

    with Receiver(answer) as receiver:
        hanging = add_delivery(receiver.url("/hang"))
        others = [add_delivery(receiver.url("/ok")) for _ in range(3)]
        started = time.monotonic()
        start(webhook_timeout_seconds=2.0, webhook_retry_base_seconds=60)
        for delivery_id in others:
            wait_for_status(delivery_id, "delivered")
        assert time.monotonic() - started < 2.0  # before the hanging one's timeout
        deadline = time.monotonic() + 10
        while load(hanging).last_error is None and time.monotonic() < deadline:
            time.sleep(0.01)
    delivery = load(hanging)
    assert delivery.status == "pending" and delivery.attempts == 1 and "Timeout" in delivery.last_error
    assert time.monotonic() - started >= 2.0


def test_an_internal_address_is_refused_at_send_time_when_private_networks_are_off(
    start: Callable[..., Dispatcher]
) -> None:
    with Receiver() as receiver:
        delivery_id = add_delivery(receiver.url())
        start(webhook_allow_private_networks=False)
        delivery = wait_for_status(delivery_id, "failed")
    assert receiver.received == [] and delivery.attempts == 1
    assert delivery.last_error.startswith("refused: host '127.0.0.1' is an internal address")


def test_a_render_failure_is_a_failed_attempt_and_retried(start: Callable[..., Dispatcher]) -> None:
    calls = []

    def flaky(session: Session, job: Job) -> dict[str, Any]:
        calls.append(job.id)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return render(session, job)

    with Receiver() as receiver:
        delivery_id = add_delivery(receiver.url())
        start(flaky, webhook_retry_base_seconds=0.02)
        delivery = wait_for_status(delivery_id, "delivered")
    assert delivery.attempts == 2 and len(receiver.received) == 1
    assert json.loads(receiver.received[0].body)["data"]["id"] == delivery.job_id
