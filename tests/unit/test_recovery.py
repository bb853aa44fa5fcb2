"""Database-driven recovery: lost workers' jobs go back to the queue, unpublished jobs get published."""

from datetime import timedelta
from pathlib import Path

from services.db import session_scope
from services.db.models import Job, utcnow
from services.jobs import lifecycle
from services.jobs.recovery import recover_jobs
from services.jobs.states import JobKind, JobStatus


def make_job(**values) -> str:
    with session_scope() as session:
        job = lifecycle.create_job(session, owner="o", kind=JobKind.TRAIN, input={})
        for key, value in values.items():
            setattr(job, key, value)
        return job.id


def recover(published: list[str], fail: bool = False, default_time_limit: float | None = None) -> list[str]:
    def publish(job: Job) -> None:
        if fail:
            raise ConnectionError("broker down")
        published.append(job.id)

    with session_scope() as session:
        return recover_jobs(session, publish, lease_seconds=10, max_attempts=3, publish_grace=1,
                            default_time_limit=default_time_limit)


def test_job_of_a_dead_worker_is_queued_again_and_published(data_dir: Path) -> None:
    old = utcnow() - timedelta(seconds=60)
    lost = make_job(status=JobStatus.RUNNING, attempts=1, heartbeat_at=old, started_at=old, enqueued_at=old,
                    created_at=old)
    alive = make_job(status=JobStatus.RUNNING, attempts=1, heartbeat_at=utcnow(), enqueued_at=old, created_at=old)
    published: list[str] = []
    assert recover(published) == [lost] == published
    with session_scope() as session:
        assert session.get(Job, lost).status == JobStatus.QUEUED and session.get(Job, lost).enqueued_at
        assert session.get(Job, alive).status == JobStatus.RUNNING


def test_out_of_attempts_fails_instead(data_dir: Path) -> None:
    old = utcnow() - timedelta(seconds=60)
    job_id = make_job(status=JobStatus.RUNNING, attempts=3, heartbeat_at=old, enqueued_at=old, created_at=old)
    assert recover([]) == []
    with session_scope() as session:
        assert session.get(Job, job_id).status == JobStatus.FAILED
        assert session.get(Job, job_id).error_type == "worker_lost"


def test_a_job_the_broker_never_got_is_published_once_it_is_back(data_dir: Path) -> None:
    job_id = make_job(created_at=utcnow() - timedelta(seconds=5))
    fresh = make_job()  # inside the grace period: its own request may still be publishing it
    assert recover([], fail=True) == []
    published: list[str] = []
    assert recover(published) == [job_id]
    assert recover(published) == []  # now marked enqueued
    with session_scope() as session:
        assert session.get(Job, fresh).enqueued_at is None


def test_a_run_stuck_past_its_time_limit_fails_even_while_its_heartbeat_goes_on(data_dir: Path) -> None:
    started = utcnow() - timedelta(seconds=100)
    stuck = make_job(status=JobStatus.RUNNING, attempts=1, started_at=started, heartbeat_at=utcnow(),
                     enqueued_at=started, created_at=started, input={"time_limit_seconds": 60})
    within = make_job(status=JobStatus.RUNNING, attempts=1, started_at=started, heartbeat_at=utcnow(),
                      enqueued_at=started, created_at=started, input={"time_limit_seconds": 95})  # + lease: not yet
    by_default = make_job(status=JobStatus.RUNNING, attempts=1, started_at=started, heartbeat_at=utcnow(),
                          enqueued_at=started, created_at=started)
    recover([], default_time_limit=80)
    with session_scope() as session:
        assert (session.get(Job, stuck).status, session.get(Job, stuck).error_type) == (JobStatus.FAILED, "timeout")
        assert session.get(Job, within).status == JobStatus.RUNNING
        assert session.get(Job, by_default).status == JobStatus.FAILED
