"""The tasks. Each takes only the job id (which is also the Celery task id)."""

import logging
import threading
import time
from functools import cache, partial

from celery import Task
from celery.signals import worker_process_init, worker_ready, worker_shutdown, worker_shutting_down

from services.artifacts import ArtifactStore
from services.db import get_engine, session_scope
from services.devices import pick_device
from services.jobs.lifecycle import request_release
from services.jobs.recovery import recover_jobs
from services.jobs.runner import Work, run_job
from services.sampling.cache import ModelCache
from services.sampling.clip import ClipCache
from services.sampling.job import run_sample_job  # torch and diffusers load here, once, before the pool forks
from services.training.job import run_training_job
from services.settings import get_settings
from worker.app import celery_app
from worker.publish import publish_job
from worker.webhooks import start_webhook_dispatcher

log = logging.getLogger(__name__)


@worker_process_init.connect
def _fresh_connections_in_child(**_: object) -> None:
    # A forked child must not reuse the parent's pooled database connections.
    get_engine().dispose(close=False)


@cache
def _sample_work() -> Work:
    """Built once per worker child: the device is chosen (and CUDA touched) only here, never in the parent."""
    settings = get_settings()
    device = pick_device(settings.worker_device)
    log.info("sampling on %s", device)
    return partial(
        run_sample_job, store=ArtifactStore(settings.artifact_root), cache=ModelCache(settings.pipeline_cache_size),
        device=device, hub_cache_dir=settings.hub_cache_dir, clip_cache=ClipCache(1), clip_model=settings.clip_model,
    )


@cache
def _training_work() -> Work:
    settings = get_settings()
    return partial(run_training_job, store=ArtifactStore(settings.artifact_root),
                   device=pick_device(settings.worker_device))


def _run(task: Task, job_id: str, work: Work) -> None:
    # A delivery that finds its job finished, or running under a live lease elsewhere (a duplicate, or Redis
    # re-delivering a long job's message), ends here and is acknowledged. It is not kept for later: if the
    # running worker dies, the recovery loop queues the job again and publishes a fresh message once the
    # lease runs out, so copies of a message never pile up, whatever the broker's visibility timeout.
    settings = get_settings()
    run_job(job_id, work, settings=settings, store=ArtifactStore(settings.artifact_root), worker=task.request.hostname)


@celery_app.task(name="jobs.sample", bind=True)
def sample(self: Task, job_id: str) -> None:
    """Run a sample job."""
    _run(self, job_id, _sample_work())


@celery_app.task(name="jobs.train", bind=True)
def train(self: Task, job_id: str) -> None:
    """Run a training or fine-tuning job."""
    _run(self, job_id, _training_work())


# Set when this worker begins to shut down: it then publishes nothing more (a job it hands back is published
# by another worker's recovery, or by this one's successor) so it does not take its own jobs back.
_stopping = threading.Event()


def _recovery_loop() -> None:
    settings = get_settings()
    while not _stopping.wait(settings.job_recovery_interval_seconds):
        try:
            with session_scope() as session:
                recover_jobs(session, publish_job, lease_seconds=settings.job_lease_seconds,
                             max_attempts=settings.job_max_attempts,
                             default_time_limit=settings.job_time_limit_seconds)
        except Exception:  # the database or broker is down: the next round tries again
            log.warning("job recovery round failed", exc_info=True)


@worker_ready.connect
def _start_recovery(**_: object) -> None:
    # Runs in the worker's main process, which does no ML work; every worker runs one, safely.
    threading.Thread(target=_recovery_loop, name="job-recovery", daemon=True).start()
    start_webhook_dispatcher()
    worker_shutdown.connect(lambda **_: _stopping.set(), weak=False)


def _release_jobs(worker: str) -> None:
    try:
        with session_scope() as session:
            released = request_release(session, worker)
        if released:
            log.info("asked %s to go back to the queue at their next step", ", ".join(released))
    except Exception:  # the database is down: the jobs' leases run out and recovery queues them again
        log.warning("could not hand back the jobs of %s", worker, exc_info=True)


@worker_shutting_down.connect
def _hand_back_running_jobs(sender: str, **_: object) -> None:
    # SIGTERM: rather than wait for a long training to end (and be killed by whoever sent it), ask this
    # worker's running jobs to stop at their next step and go back to the queue; a training checkpoints
    # first and resumes elsewhere. Called inside a signal handler, so the database work runs in a thread;
    # the warm shutdown then waits for the task to return.
    _stopping.set()
    threading.Thread(target=_release_loop, args=(sender,), name="job-release", daemon=True).start()


def _release_loop(worker: str) -> None:
    # Until the process exits: a message the draining worker still takes is claimed, and handed back too.
    while True:
        _release_jobs(worker)
        time.sleep(0.5)
