"""Faults injected into real processes: a broker that is down, workers killed mid-job, duplicate and early
re-deliveries, a job that kills every worker it runs on, and servers that start after the service does.

Each test records how long recovery took; the run prints them at the end ("recovery after injected faults").
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from tests.integration.conftest import backend_services, register_model, running_stack, stack_env, submit
from tests.integration.stack import (
    ROOT, PostgresDatabase, RedisServer, Stack, TcpForwarder, child_pids, free_port, wait_until,
)

pytestmark = pytest.mark.integration

Record = Callable[[str, float], None]
# Long enough to be caught in the middle: a thousand DDPM steps take a few seconds on a tiny model.
LONG_SAMPLE = {"scheduler": "ddpm", "num_inference_steps": 1000, "num_images": 2}
SHORT_SAMPLE = {"scheduler": "ddim", "num_inference_steps": 5, "num_images": 1}


def wait_for_log(stack: Stack, text: str, timeout: float = 60) -> None:
    try:
        wait_until(lambda: text in stack.worker_log(), timeout, f"{text!r} in the worker's log", interval=0.2)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{stack.logs()}") from None


def attempt_folders(stack: Stack, job_id: str) -> list[str]:
    return sorted(path.name for path in (stack.folder / "var" / "artifacts" / "jobs" / job_id).iterdir())


def running(stack: Stack, job_id: str, attempt: int) -> bool:
    job = stack.job(job_id)
    return job["status"] == "running" and job["attempts"] == attempt and job["progress"]["step"] > 0


def test_a_job_accepted_while_the_broker_is_down_runs_when_it_is_back(
    tmp_path: Path, tiny_model_dir: Path, recovery_time: Record
) -> None:
    RedisServer.require_own()
    with backend_services("postgres-redis", tmp_path) as (settings, redis), running_stack(tmp_path, settings) as stack:
        assert redis is not None
        model_id = register_model(stack, tiny_model_dir)
        redis.stop()
        with stack.client() as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["database"] == "ok", ready.text
            assert ready.json()["broker"] != "ok"
            started = time.monotonic()
            accepted = client.post("/v1/samples", json={"model_id": model_id, **SHORT_SAMPLE})
        assert accepted.status_code == 202, accepted.text
        assert time.monotonic() - started < 5  # accepting does not wait for the broker
        job_id = accepted.json()["id"]
        assert accepted.json()["status"] == "queued"
        wait_for_log(stack, f"could not publish job {job_id}")  # the worker's recovery tried, and keeps trying

        back = time.monotonic()
        redis.restart()  # an empty broker: whatever it held before is gone
        done = stack.wait_for_job(job_id, {"succeeded", "failed"}, timeout=120)
        recovery_time("broker restart -> job succeeded", time.monotonic() - back)
        assert done["status"] == "succeeded", done["error"]
        assert done["attempts"] == 1
        with stack.client() as client:
            assert client.get("/readyz").status_code == 200


def test_a_sample_job_whose_worker_is_killed_runs_again_with_one_set_of_artifacts(
    stack: Stack, model_id: str, recovery_time: Record
) -> None:
    job = submit(stack, model_id=model_id, **LONG_SAMPLE, seed=3)
    wait_until(lambda: running(stack, job["id"], 1), 120, "the job to run")
    stack.stop_workers(signal.SIGKILL)  # parent and child at once, with no chance to clean up
    assert stack.job(job["id"])["status"] == "running"  # until its lease runs out

    restarted = time.monotonic()
    ready_before = stack.workers_ready()
    stack.start_worker()
    stack.wait_for_workers(ready_before + 1)
    recovery_time("new worker started -> ready", time.monotonic() - restarted)
    wait_until(lambda: running(stack, job["id"], 2), 120, "the job to run again")
    recovery_time("new worker started -> job running again", time.monotonic() - restarted)
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=300)
    recovery_time("new worker started -> job succeeded", time.monotonic() - restarted)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    assert sorted(a["kind"] for a in done["artifacts"]) == ["grid", "image", "image"]
    assert attempt_folders(stack, job["id"]) == ["attempt-2"]  # the killed attempt's files are gone


def publish_again(stack: Stack, job: dict[str, Any]) -> None:
    """Send the job's message once more, as a broker or a client library that retries a publish would."""
    code = ("from worker.app import celery_app, TASK_FOR_KIND; "
            f"celery_app.send_task(TASK_FOR_KIND[{job['kind']!r}], args=[{job['id']!r}], task_id={job['id']!r}, "
            f"queue={job['kind']!r})")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=stack.env, check=True, capture_output=True)


def test_a_job_delivered_three_times_runs_once(stack: Stack, model_id: str) -> None:
    job = submit(stack, model_id=model_id, **LONG_SAMPLE, seed=4)
    wait_until(lambda: running(stack, job["id"], 1), 120, "the job to run")
    publish_again(stack, job)
    publish_again(stack, job)
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=300)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 1
    assert len(done["artifacts"]) == 3
    assert attempt_folders(stack, job["id"]) == ["attempt-1"]
    wait_until(lambda: stack.worker_log().count(f"job {job['id']} not claimed") >= 2, 60,
               "both duplicates to be turned away")


def test_a_redelivery_after_the_visibility_timeout_does_not_run_a_live_job_twice(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    # Redis hands the message of a job still running to the second worker after two seconds.
    with backend_services("postgres-redis", tmp_path) as (settings, _), \
            running_stack(tmp_path, {**settings, "broker_visibility_timeout": "2"}, workers=2) as stack:
        model_id = register_model(stack, tiny_model_dir)
        job = submit(stack, model_id=model_id, **{**LONG_SAMPLE, "num_images": 4}, seed=5)
        done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=300)
        assert done["status"] == "succeeded", done["error"]
        # Redis re-delivers the message 2-3 s into the run (timeout, then the next sweep); the run takes ~10 s.
        assert done["metrics"]["run_s"] > 3, "the job ended before a re-delivery could reach the other worker"
        assert f"job {job['id']} not claimed: busy" in stack.worker_log(), stack.logs()
        assert done["attempts"] == 1
        assert len(done["artifacts"]) == 5
        # Each re-delivered copy is dropped, not kept for later: copies do not multiply while the job runs.
        copies = stack.worker_log().count(f"job {job['id']} not claimed")
        assert copies <= done["metrics"]["run_s"] / 2 + 1, stack.worker_log()


def test_a_job_that_kills_its_worker_every_time_fails_and_the_queue_moves_on(
    stack: Stack, model_id: str, recovery_time: Record
) -> None:
    job = submit(stack, model_id=model_id, **LONG_SAMPLE, seed=6)
    (worker,) = stack.workers
    killed_at = 0.0
    for attempt in (1, 2, 3):
        wait_until(lambda: running(stack, job["id"], attempt), 120, f"attempt {attempt} to run")
        if attempt > 1:
            recovery_time(f"pool process killed -> attempt {attempt} running", time.monotonic() - killed_at)
        for child in child_pids(worker.pid):  # the pool process running the job dies, as on a segfault or OOM
            os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
    failed = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=120)
    assert failed["status"] == "failed", failed
    assert failed["error"]["type"] == "worker_lost"
    assert "lost 3 times" in failed["error"]["message"]
    assert failed["attempts"] == 3
    assert worker.poll() is None  # the worker itself lives on...

    after = submit(stack, model_id=model_id, **SHORT_SAMPLE)  # ...and runs the next job
    assert stack.wait_for_job(after["id"], {"succeeded", "failed"})["status"] == "succeeded"


def test_api_and_worker_started_before_the_database_and_broker_become_ready_when_they_are(
    tmp_path: Path, tiny_model_dir: Path, recovery_time: Record
) -> None:
    RedisServer.require_own()
    database = PostgresDatabase.create()
    url = make_url(database.url)
    forwarder = TcpForwarder((url.host or "127.0.0.1", url.port or 5432))  # Postgres, once it is "started"
    redis = RedisServer(f"redis://127.0.0.1:{(port := free_port())}/0", folder=tmp_path, port=port)
    stack = Stack(folder=tmp_path, env=stack_env(
        tmp_path, database_url=url.set(host="127.0.0.1", port=forwarder.port).render_as_string(hide_password=False),
        broker_url=redis.url,
    ))
    try:
        stack.start_api(wait_for="/healthz")
        stack.start_worker()
        with stack.client() as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert ready.json()["database"] != "ok" and ready.json()["broker"] != "ok"
            refused = client.post("/v1/samples", json={"model_id": "m", **SHORT_SAMPLE})
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["type"] == "unavailable"
        wait_for_log(stack, "Cannot connect to redis")  # the worker is up and retrying

        subprocess.run([sys.executable, "-m", "services.db.migrate"], cwd=ROOT, check=True, capture_output=True,
                       env={**stack.env, "DJ_DATABASE_URL": database.url})
        up = time.monotonic()
        forwarder.start()
        redis.restart()
        with stack.client() as client:
            wait_until(lambda: client.get("/readyz").status_code == 200, 60, "the API to become ready")
        recovery_time("database and broker up -> API ready", time.monotonic() - up)
        job = submit(stack, model_id=register_model(stack, tiny_model_dir), **SHORT_SAMPLE)
        done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=120)
        recovery_time("database and broker up -> first job succeeded", time.monotonic() - up)
        assert done["status"] == "succeeded", done["error"]
    finally:
        stack.stop()
        forwarder.stop()
        redis.stop()
        database.drop()
