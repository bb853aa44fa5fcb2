"""The progress reporter against a real (SQLite) database: throttled writes off the loop, cancel, heartbeat."""

import time
from pathlib import Path

import pytest

from services.db import session_scope
from services.db.models import Job
from services.jobs import lifecycle
from services.jobs.progress import JobCanceled, JobReleased, JobTimedOut, ProgressReporter
from services.jobs.runner import error_type_of
from services.jobs.states import JobKind
from tests.integration.stack import wait_until


def running_job() -> str:
    with session_scope() as session:
        job_id = lifecycle.create_job(session, owner="o", kind=JobKind.SAMPLE, input={}).id
    with session_scope() as session:
        lifecycle.claim(session, job_id, worker="w", max_attempts=3, lease_seconds=60)
    return job_id


def stored(job_id: str) -> Job:
    with session_scope() as session:
        return session.get(Job, job_id)


def test_progress_reaches_the_row_without_the_loop_waiting_on_the_database(data_dir: Path) -> None:
    job_id = running_job()
    with ProgressReporter(job_id, 1, interval=0.05, heartbeat_every=10) as reporter:
        started = time.perf_counter()
        for step in range(1, 1001):
            reporter.update(step, 1000, loss=0.5)
        loop_seconds = time.perf_counter() - started
        progress = wait_until(lambda: stored(job_id).progress.get("step") == 1000 and stored(job_id).progress, 5,
                              "the last step to be written")
    assert loop_seconds < 0.5  # 1000 updates cost no database round trip each
    assert progress["total"] == 1000 and progress["fraction"] == 1.0 and progress["loss"] == 0.5


def test_cancel_request_stops_the_loop_at_its_next_step(data_dir: Path) -> None:
    job_id = running_job()
    with ProgressReporter(job_id, 1, interval=0.02, heartbeat_every=0.05) as reporter:
        reporter.update(1, 10)
        with session_scope() as session:
            assert lifecycle.cancel(session, session.get(Job, job_id)) is lifecycle.CancelResult.REQUESTED
        wait_until(reporter.canceled.is_set, 5, "the cancel flag to be seen")
        with pytest.raises(JobCanceled):
            reporter.update(2, 10)


def test_heartbeat_renews_the_lease_while_no_step_completes(data_dir: Path) -> None:
    job_id = running_job()
    first = stored(job_id).heartbeat_at
    with ProgressReporter(job_id, 1, interval=0.02, heartbeat_every=0.05):
        wait_until(lambda: stored(job_id).heartbeat_at > first, 5, "a heartbeat")


def test_a_stopping_worker_makes_the_loop_let_go_at_its_next_step(data_dir: Path) -> None:
    job_id = running_job()
    with ProgressReporter(job_id, 1, interval=0.02, heartbeat_every=0.05) as reporter:
        reporter.update(1, 10)
        with session_scope() as session:
            assert lifecycle.request_release(session, "w") == [job_id]
        wait_until(reporter.released.is_set, 5, "the release request to be seen")
        with pytest.raises(JobReleased):
            reporter.update(2, 10)


def test_the_time_limit_stops_the_loop_at_the_first_step_past_it(data_dir: Path) -> None:
    job_id = running_job()
    with ProgressReporter(job_id, 1, interval=10, heartbeat_every=10, time_limit=0.2) as reporter:
        reporter.update(1, 10)  # within the limit
        time.sleep(0.25)  # a step that takes longer than the whole limit
        with pytest.raises(JobTimedOut, match="time limit of 0.2 s") as raised:
            reporter.update(2, 10)
    assert error_type_of(raised.value) == "timeout"
