"""The state machine against a real (SQLite) database: compare-and-set claims, leases, attempts, cancel."""

from datetime import timedelta
from pathlib import Path

import pytest

from services.db import session_scope
from services.db.models import Artifact, Job, utcnow
from services.jobs import lifecycle
from services.jobs.lifecycle import CancelResult, ClaimResult, StopRequest
from services.jobs.states import IllegalTransition, JobKind, JobStatus

LEASE = 30.0


def new_job(owner: str = "alice", **input: object) -> str:
    with session_scope() as session:
        return lifecycle.create_job(session, owner=owner, kind=JobKind.SAMPLE, input={"seed": 1, **input}).id


def claim(job_id: str, worker: str = "w1", max_attempts: int = 3) -> lifecycle.Claim:
    with session_scope() as session:
        return lifecycle.claim(session, job_id, worker=worker, max_attempts=max_attempts, lease_seconds=LEASE)


def load(job_id: str) -> Job:
    with session_scope() as session:
        return session.get(Job, job_id)


def age_heartbeat(job_id: str, seconds: float) -> None:
    with session_scope() as session:
        session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=seconds)


def test_claim_moves_queued_to_running_and_counts_the_attempt(data_dir: Path) -> None:
    job_id = new_job()
    outcome = claim(job_id)
    assert outcome.result is ClaimResult.CLAIMED
    job = load(job_id)
    assert (job.status, job.attempts, job.worker) == (JobStatus.RUNNING, 1, "w1")
    assert job.started_at is not None and job.heartbeat_at is not None


def test_duplicate_delivery_of_a_running_job_finds_it_busy(data_dir: Path) -> None:
    job_id = new_job()
    claim(job_id, "w1")
    second = claim(job_id, "w2")
    assert second.result is ClaimResult.BUSY
    assert load(job_id).worker == "w1" and load(job_id).attempts == 1


def test_duplicate_delivery_of_a_finished_job_finds_nothing(data_dir: Path) -> None:
    job_id = new_job()
    claim(job_id)
    with session_scope() as session:
        assert lifecycle.succeed(session, job_id, 1, [])
    assert claim(job_id, "w2").result is ClaimResult.GONE
    assert load(job_id).status == JobStatus.SUCCEEDED


def test_expired_lease_is_reclaimed_and_the_old_worker_is_fenced_out(data_dir: Path) -> None:
    job_id = new_job()
    claim(job_id, "w1")
    age_heartbeat(job_id, LEASE + 1)
    assert claim(job_id, "w2").result is ClaimResult.CLAIMED
    job = load(job_id)
    assert (job.status, job.attempts, job.worker) == (JobStatus.RUNNING, 2, "w2")
    with session_scope() as session:  # the first worker, back from the dead, cannot finish or fail it
        assert not lifecycle.succeed(session, job_id, 1, [])
        assert not lifecycle.fail(session, job_id, 1, "x", "y")
        assert lifecycle.record_progress(session, job_id, 1, {"step": 5}) is StopRequest.CANCEL  # no longer yours
    assert load(job_id).status == JobStatus.RUNNING and load(job_id).progress == {}


def test_a_job_that_loses_its_worker_every_time_fails_after_max_attempts(data_dir: Path) -> None:
    job_id = new_job()
    for _ in range(2):
        assert claim(job_id, max_attempts=2).result is ClaimResult.CLAIMED
        age_heartbeat(job_id, LEASE + 1)
    assert claim(job_id, max_attempts=2).result is ClaimResult.GONE
    job = load(job_id)
    assert job.status == JobStatus.FAILED and job.error_type == "worker_lost"
    assert "2 attempts" in job.error_message


def test_a_stopping_worker_hands_its_job_back_without_using_up_an_attempt(data_dir: Path) -> None:
    job_id = new_job()
    for attempt in (1, 2, 3, 4):  # more hand-backs than max_attempts: none of them was a lost worker
        assert claim(job_id, "w1", max_attempts=2).result is ClaimResult.CLAIMED
        with session_scope() as session:
            assert lifecycle.request_release(session, "w1") == [job_id]
            assert lifecycle.record_progress(session, job_id, attempt, {"step": 1}) is StopRequest.RELEASE
            assert lifecycle.hand_back(session, job_id, attempt)
        job = load(job_id)
        assert (job.status, job.worker, job.enqueued_at, job.release_requested) == (JobStatus.QUEUED, None, None, False)
    assert claim(job_id, "w2", max_attempts=2).result is ClaimResult.CLAIMED
    age_heartbeat(job_id, LEASE + 1)  # now a real loss: the first one counts
    assert claim(job_id, "w3", max_attempts=2).result is ClaimResult.CLAIMED
    age_heartbeat(job_id, LEASE + 1)
    assert claim(job_id, "w4", max_attempts=2).result is ClaimResult.GONE
    assert load(job_id).error_message == "the job's worker was lost 2 times; giving up after 2 attempts"


def test_release_asks_only_the_stopping_workers_jobs(data_dir: Path) -> None:
    mine, theirs = new_job(), new_job()
    claim(mine, "w1")
    claim(theirs, "w2")
    with session_scope() as session:
        assert lifecycle.request_release(session, "w1") == [mine]
        assert lifecycle.record_progress(session, theirs, 1) is None


def test_a_lost_run_past_its_time_limit_fails_with_timeout_instead_of_running_again(data_dir: Path) -> None:
    job_id = new_job(time_limit_seconds=5)
    claim(job_id)
    with session_scope() as session:
        job = session.get(Job, job_id)
        job.started_at = job.heartbeat_at = utcnow() - timedelta(seconds=LEASE + 10)
    assert claim(job_id, "w2").result is ClaimResult.GONE
    job = load(job_id)
    assert (job.status, job.error_type, job.attempts) == (JobStatus.FAILED, "timeout", 1)
    assert "time limit of 5 s" in job.error_message


def test_success_records_artifacts_in_the_same_transaction(data_dir: Path) -> None:
    job_id = new_job()
    claim(job_id)
    with session_scope() as session:
        artifact = Artifact(owner="alice", job_id=job_id, kind="image", media_type="image/png", path="a.png",
                            size_bytes=3, meta={})
        assert lifecycle.succeed(session, job_id, 1, [artifact], progress={"step": 3, "total": 3})
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job.status == JobStatus.SUCCEEDED and job.finished_at is not None
        assert session.query(Artifact).filter_by(job_id=job_id).count() == 1


def test_cancel_queued_is_immediate_and_idempotent(data_dir: Path) -> None:
    job_id = new_job()
    with session_scope() as session:
        assert lifecycle.cancel(session, session.get(Job, job_id)) is CancelResult.CANCELED
    with session_scope() as session:
        assert lifecycle.cancel(session, session.get(Job, job_id)) is CancelResult.ALREADY_FINAL
    assert load(job_id).status == JobStatus.CANCELED
    assert claim(job_id).result is ClaimResult.GONE


def test_cancel_running_sets_the_flag_the_worker_sees(data_dir: Path) -> None:
    job_id = new_job()
    claim(job_id)
    with session_scope() as session:
        assert lifecycle.record_progress(session, job_id, 1, {"step": 1}) is None
        assert lifecycle.cancel(session, session.get(Job, job_id)) is CancelResult.REQUESTED
    with session_scope() as session:
        assert lifecycle.record_progress(session, job_id, 1, {"step": 2}) is StopRequest.CANCEL
        assert lifecycle.finish_canceled(session, job_id, 1)
    assert load(job_id).status == JobStatus.CANCELED


def test_a_finished_job_cannot_be_moved_again(data_dir: Path) -> None:
    job_id = new_job()
    claim(job_id)
    with session_scope() as session:
        assert lifecycle.fail(session, job_id, 1, "internal_error", "boom")
    with session_scope() as session:
        assert not lifecycle.succeed(session, job_id, 1, [])
    with pytest.raises(IllegalTransition):
        lifecycle._set_status(None, job_id, JobStatus.FAILED, JobStatus.RUNNING)  # type: ignore[arg-type]
    assert load(job_id).status == JobStatus.FAILED
