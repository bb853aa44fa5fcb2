"""The outbox: each status change (and throttled progress) a job's webhook subscribed to becomes a delivery row,
in the transaction of the change."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.db import session_scope
from services.db.models import Job, WebhookDelivery, utcnow
from services.jobs import lifecycle
from services.jobs.lifecycle import ClaimResult
from services.jobs.states import JobKind, JobStatus
from services.settings import get_settings

ALL = ["started", "progress", "completed"]
LEASE = 30.0


def new_job(events: list[str] | None = ALL) -> str:
    webhook = {"url": "http://127.0.0.1:9/hook", "events": events} if events else None
    with session_scope() as session:
        return lifecycle.create_job(session, owner="alice", kind=JobKind.SAMPLE,
                                    input={"seed": 1, "webhook": webhook}).id


def claim(job_id: str, max_attempts: int = 3) -> ClaimResult:
    with session_scope() as session:
        return lifecycle.claim(session, job_id, worker="w1", max_attempts=max_attempts, lease_seconds=LEASE).result


def events(job_id: str) -> list[str]:
    with session_scope() as session:
        rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
                               .order_by(WebhookDelivery.created_at)).all()
        assert all(r.owner == "alice" and r.url == "http://127.0.0.1:9/hook" for r in rows)
        return [row.event for row in rows]


def progress(job_id: str, step: int, attempt: int = 1) -> None:
    with session_scope() as session:
        lifecycle.record_progress(session, job_id, attempt, {"step": step, "total": 10})


def test_a_successful_run_is_started_then_completed(data_dir: Path) -> None:
    job_id = new_job()
    assert events(job_id) == []  # being queued is no event
    claim(job_id)
    assert events(job_id) == ["started"]
    with session_scope() as session:
        assert lifecycle.succeed(session, job_id, 1, [])
    assert events(job_id) == ["started", "completed"]


@pytest.mark.parametrize("ending", ["fail", "finish_canceled"])
def test_a_failed_or_canceled_run_is_completed(data_dir: Path, ending: str) -> None:
    job_id = new_job()
    claim(job_id)
    with session_scope() as session:
        assert lifecycle.fail(session, job_id, 1, "boom", "it broke") if ending == "fail" \
            else lifecycle.finish_canceled(session, job_id, 1)
    assert events(job_id) == ["started", "completed"]


def test_canceling_a_queued_job_is_completed(data_dir: Path) -> None:
    job_id = new_job()
    with session_scope() as session:
        lifecycle.cancel(session, session.get(Job, job_id))
    assert events(job_id) == ["completed"]


def test_a_lost_worker_requeues_silently_and_the_final_failure_is_completed(data_dir: Path) -> None:
    job_id = new_job()
    for _ in range(2):
        assert claim(job_id, max_attempts=2) is ClaimResult.CLAIMED
        with session_scope() as session:
            session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=LEASE + 1)
    assert claim(job_id, max_attempts=2) is ClaimResult.GONE  # running -> queued -> failed in one transaction
    assert events(job_id) == ["started", "started", "completed"]


def test_a_change_that_loses_its_compare_and_set_writes_no_event(data_dir: Path) -> None:
    job_id = new_job()
    claim(job_id)
    with session_scope() as session:
        assert not lifecycle.succeed(session, job_id, 2, [])  # not this attempt's
        assert not lifecycle.fail(session, job_id, 2, "x", "y")
    assert events(job_id) == ["started"]


def test_the_event_rolls_back_with_the_change(data_dir: Path) -> None:
    job_id = new_job()
    claim(job_id)
    with pytest.raises(RuntimeError), session_scope() as session:
        assert lifecycle.fail(session, job_id, 1, "boom", "it broke")
        raise RuntimeError("the transaction fails after the change")
    assert events(job_id) == ["started"]
    with session_scope() as session:
        assert session.get(Job, job_id).status == JobStatus.RUNNING


def test_only_subscribed_events_are_recorded(data_dir: Path) -> None:
    completed_only, none = new_job(["completed"]), new_job(None)
    for job_id in (completed_only, none):
        claim(job_id)
        progress(job_id, 1)
        with session_scope() as session:
            assert lifecycle.succeed(session, job_id, 1, [])
    assert events(completed_only) == ["completed"]
    assert events(none) == []


def test_progress_events_are_throttled_per_job(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJ_WEBHOOK_PROGRESS_INTERVAL_SECONDS", "60")
    get_settings.cache_clear()
    job_id, other = new_job(), new_job()
    claim(job_id)
    claim(other)
    progress(job_id, 1)
    mark_progress_sent()
    for step in (2, 3):
        progress(job_id, step)
    progress(other, 1)  # another job's throttle is its own
    with session_scope() as session:  # a heartbeat without progress is no event
        lifecycle.record_progress(session, job_id, 1)
    assert events(job_id) == ["started", "progress"]
    assert events(other) == ["started", "progress"]
    mark_progress_sent(seconds_ago=61)  # once the interval has passed since the last progress event, another
    progress(job_id, 4)
    assert sorted(events(job_id)) == ["progress", "progress", "started"]


def mark_progress_sent(seconds_ago: float = 0) -> None:
    with session_scope() as session:
        for row in session.scalars(select(WebhookDelivery).where(WebhookDelivery.event == "progress")):
            row.status = "delivered"
            row.created_at -= timedelta(seconds=seconds_ago)


def test_no_progress_event_is_added_while_one_is_still_to_be_sent(data_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJ_WEBHOOK_PROGRESS_INTERVAL_SECONDS", "0")
    get_settings.cache_clear()
    job_id = new_job()
    claim(job_id)
    for step in (1, 2, 3):  # the receiver is down: the one waiting will carry the progress of when it is sent
        progress(job_id, step)
    assert events(job_id) == ["started", "progress"]
    mark_progress_sent()
    progress(job_id, 4)
    assert events(job_id) == ["started", "progress", "progress"]


def test_progress_of_a_run_that_is_no_longer_current_is_no_event(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJ_WEBHOOK_PROGRESS_INTERVAL_SECONDS", "0")
    get_settings.cache_clear()
    job_id = new_job()
    claim(job_id)
    progress(job_id, 1)
    mark_progress_sent()
    progress(job_id, 2, attempt=7)  # a fenced-out worker
    with session_scope() as session:
        lifecycle.cancel(session, session.get(Job, job_id))
    progress(job_id, 3)  # cancel requested: the run stops
    assert events(job_id) == ["started", "progress"]
