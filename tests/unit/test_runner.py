"""One delivery of a job, end to end against a real (SQLite) database and artifact store, with small works that
succeed, fail, get canceled, are handed back, or run out of time."""

import time
from pathlib import Path

import pytest

from services.artifacts import ArtifactStore
from services.db import session_scope
from services.db.models import Artifact, Job
from services.jobs import lifecycle
from services.jobs.artifacts import artifact_for
from services.jobs.lifecycle import ClaimResult
from services.jobs.runner import JobContext, JobError, WorkResult, run_job
from services.jobs.states import JobKind, JobStatus
from services.settings import get_settings


@pytest.fixture
def store(data_dir: Path) -> ArtifactStore:
    return ArtifactStore(get_settings().artifact_root)


def new_job(**input: object) -> str:
    with session_scope() as session:
        return lifecycle.create_job(session, owner="o", kind=JobKind.SAMPLE, input=dict(input)).id


def load(job_id: str) -> Job:
    with session_scope() as session:
        return session.get(Job, job_id)


def artifacts_of(job_id: str) -> list[Artifact]:
    with session_scope() as session:
        return list(session.query(Artifact).filter_by(job_id=job_id))


def run(job_id: str, work, store: ArtifactStore):  # noqa: ANN001, ANN201
    return run_job(job_id, work, settings=get_settings(), store=store, worker="w1")


def writing(store: ArtifactStore, then=None):  # noqa: ANN001, ANN201
    """A work that writes one image into its attempt folder, reports three steps, then does ``then``."""
    def work(context: JobContext) -> WorkResult:
        path = store.write_bytes(f"{context.folder}/image.png", b"png")
        for step in (1, 2, 3):
            context.reporter.update(step, 3)
            if then is not None and step == 2:
                then(context)
        return WorkResult([artifact_for(context.job, store, path, "image")])
    return work


def test_a_successful_run_records_its_artifacts_and_final_progress(store: ArtifactStore) -> None:
    job_id = new_job()
    assert run(job_id, writing(store), store).result is ClaimResult.CLAIMED
    job = load(job_id)
    assert (job.status, job.attempts, job.progress["step"]) == (JobStatus.SUCCEEDED, 1, 3)
    (artifact,) = artifacts_of(job_id)
    assert store.resolve(artifact.path).read_bytes() == b"png"


def test_a_failing_run_fails_with_its_error_type_and_leaves_no_files(store: ArtifactStore) -> None:
    class ModelBroken(JobError):
        error_type = "model_unavailable"

    def broken(context: JobContext) -> None:
        raise ModelBroken("weights are corrupt")

    job_id = new_job()
    run(job_id, writing(store, broken), store)
    job = load(job_id)
    assert (job.status, job.error_type, job.progress["step"]) == (JobStatus.FAILED, "model_unavailable", 2)
    assert "weights are corrupt" in job.error_message
    assert artifacts_of(job_id) == [] and not store.resolve(f"jobs/{job_id}/attempt-1").exists()


def test_a_canceled_run_stops_at_its_next_step(store: ArtifactStore) -> None:
    def cancel(context: JobContext) -> None:
        with session_scope() as session:
            lifecycle.cancel(session, session.get(Job, context.job.id))
        context.reporter.canceled.set()  # what the progress thread does once it reads the flag

    job_id = new_job()
    run(job_id, writing(store, cancel), store)
    job = load(job_id)
    assert (job.status, job.progress["step"]) == (JobStatus.CANCELED, 3)
    assert artifacts_of(job_id) == [] and not store.resolve(f"jobs/{job_id}/attempt-1").exists()


def test_a_released_run_goes_back_to_the_queue_and_the_next_attempt_cleans_up_after_it(
    store: ArtifactStore,
) -> None:
    def release(context: JobContext) -> None:
        context.reporter.released.set()

    job_id = new_job()
    run(job_id, writing(store, release), store)
    job = load(job_id)
    assert (job.status, job.handbacks, job.worker, job.progress["step"]) == (JobStatus.QUEUED, 1, None, 3)
    store.write_bytes(f"jobs/{job_id}/attempt-1/left-by-a-dead-worker.png", b"x")
    run(job_id, writing(store), store)
    assert load(job_id).status == JobStatus.SUCCEEDED and load(job_id).attempts == 2
    assert not store.resolve(f"jobs/{job_id}/attempt-1").exists()
    assert [a.path for a in artifacts_of(job_id)] == [f"jobs/{job_id}/attempt-2/image.png"]


def test_a_run_past_its_time_limit_fails_with_timeout(store: ArtifactStore) -> None:
    job_id = new_job(time_limit_seconds=0.1)
    run(job_id, writing(store, lambda context: time.sleep(0.2)), store)
    job = load(job_id)
    assert (job.status, job.error_type) == (JobStatus.FAILED, "timeout")
    assert "time limit of 0.1 s" in job.error_message


def test_a_job_running_elsewhere_is_not_run_again(store: ArtifactStore) -> None:
    job_id = new_job()
    with session_scope() as session:
        lifecycle.claim(session, job_id, worker="w0", max_attempts=3, lease_seconds=60)
    ran = []
    outcome = run(job_id, lambda context: ran.append(1), store)
    assert outcome.result is ClaimResult.BUSY and ran == []
