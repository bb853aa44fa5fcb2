"""Publishing jobs to the broker, and checking that it can be reached."""

from services.db.models import Job
from services.jobs.lifecycle import time_limit_of
from services.settings import get_settings
from worker.app import TASK_FOR_KIND, celery_app


def publish_job(job: Job) -> None:
    """The message carries only the job id, which is also the task id."""
    settings = get_settings()
    # The run stops itself at its time limit, and recovery fails it a lease later; this hard limit only
    # frees a worker process stuck inside one step (Celery kills and replaces the pool child).
    hard_limit = time_limit_of(job, settings.job_time_limit_seconds) + 2 * settings.job_lease_seconds
    celery_app.send_task(
        TASK_FOR_KIND[job.kind], args=[job.id], task_id=job.id, queue=job.kind, time_limit=hard_limit,
        retry=True, retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
    )


def broker_reachable() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return True, "ok"
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"
