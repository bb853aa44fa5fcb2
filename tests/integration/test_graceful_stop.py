"""SIGTERM to a worker in the middle of a job: the job goes back to the queue at its next step, never stays running."""

import signal
import time
from collections.abc import Callable

import pytest

from tests.integration.conftest import submit
from tests.integration.stack import Stack, wait_until
from tests.integration.test_training_jobs import TINY_DIGITS, losses_of, train

pytestmark = pytest.mark.integration


def stop_worker_gracefully(stack: Stack) -> float:
    """SIGTERM to the worker's main process, as `docker stop` sends it; seconds until it exited by itself."""
    (worker,) = stack.workers
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(60)
    stack.workers.clear()
    assert worker.returncode == 0, f"the worker did not exit cleanly ({worker.returncode})\n{stack.logs()}"
    return time.monotonic() - started


def test_sigterm_hands_a_running_training_back_and_it_resumes_from_that_step(
    stack: Stack, recovery_time: Callable[[str, float], None]
) -> None:
    job = train(stack, **TINY_DIGITS, max_steps=240, checkpoint_every=1000, sample_every=0)
    wait_until(lambda: stack.job(job["id"])["progress"]["step"] >= 60, 300, "training to pass step 60")
    try:
        stop_seconds = stop_worker_gracefully(stack)
        handed_back = stack.job(job["id"])
    finally:
        restarted = time.monotonic()
        stack.start_worker()
    recovery_time("SIGTERM -> training handed back, worker exited", stop_seconds)
    assert handed_back["status"] == "queued", handed_back  # not running with no worker
    assert stop_seconds < 20  # one step and a checkpoint, not the rest of the training
    wait_until(lambda: stack.job(job["id"])["attempts"] == 2, 120, "the training to resume")
    recovery_time("new worker started -> training resumed", time.monotonic() - restarted)
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=600)
    assert done["status"] == "succeeded", done["error"]
    # The hand-back saved a checkpoint at the step it stopped (none was due before 1000), and training went on
    # from there: every step once, none twice.
    assert done["progress"]["resumed_from_step"] >= 60
    assert done["attempts"] == 2
    assert len(losses_of(stack, done)) == 240


def test_sigterm_during_a_sample_job_hands_it_back_and_it_runs_again_once(stack: Stack, model_id: str) -> None:
    job = submit(stack, model_id=model_id, scheduler="ddpm", num_inference_steps=1000, num_images=2, seed=5)
    wait_until(lambda: stack.job(job["id"])["progress"]["step"] > 0, 120, "the job to run")
    try:
        stop_worker_gracefully(stack)
        handed_back = stack.job(job["id"])
    finally:
        stack.start_worker()
    assert handed_back["status"] == "queued" and handed_back["artifacts"] == []
    done = stack.wait_for_job(job["id"], {"succeeded", "failed"}, timeout=300)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    assert sorted(a["kind"] for a in done["artifacts"]) == ["grid", "image", "image"]
