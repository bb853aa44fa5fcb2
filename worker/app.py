"""The Celery app. The API imports it to publish; it must stay free of torch (tasks import that lazily)."""

from pathlib import Path

from celery import Celery
from kombu import Queue
from sqlalchemy import make_url

from services.settings import Settings, get_settings

TASK_FOR_KIND = {"sample": "jobs.sample", "train": "jobs.train"}


def make_celery(settings: Settings) -> Celery:
    app = Celery("diffusion_jobs", broker=settings.broker_url, include=["worker.tasks"])
    transport_options: dict = {
        # Redis re-delivers a message not acknowledged within this time; jobs hold a database lease instead,
        # so this only has to outlast the longest job, not to be tight.
        "visibility_timeout": settings.broker_visibility_timeout,
    }
    if settings.embedded_broker:
        transport_options["polling_interval"] = settings.broker_polling_interval
        database = make_url(settings.broker_url.removeprefix("sqla+")).database
        if database:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    app.conf.update(
        task_acks_late=True,  # a job's message is acknowledged only when the job has run
        task_reject_on_worker_lost=True,  # ...and handed back if the worker process dies under it
        worker_prefetch_multiplier=1,  # a busy worker holds no second job that another worker could run
        worker_concurrency=1,  # one job per accelerator; run more workers to scale
        task_ignore_result=True,  # the job table is the source of truth, never a result backend
        task_serializer="json",
        accept_content=["json"],
        task_queues=[Queue(kind) for kind in TASK_FOR_KIND],
        task_routes={task: {"queue": kind} for kind, task in TASK_FOR_KIND.items()},
        task_default_queue="sample",
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


celery_app = make_celery(get_settings())
