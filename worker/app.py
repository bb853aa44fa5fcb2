"""The Celery app. The API imports it to publish; it must stay free of torch (tasks import that lazily)."""

from celery import Celery
from kombu import Exchange, Queue

from services.settings import Settings, get_settings

TASK_FOR_KIND = {"sample": "jobs.sample", "train": "jobs.train"}


def make_celery(settings: Settings) -> Celery:
    app = Celery("diffusion_jobs", broker=settings.broker_url, include=["worker.tasks"])
    if settings.embedded_broker:
        # Celery's file transport: a folder of messages, shared by the API and workers of one machine.
        folder = settings.data_dir / "broker"
        folder.mkdir(parents=True, exist_ok=True)
        transport_options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
                             "control_folder": str(folder / "control"),
                             "polling_interval": settings.broker_polling_interval}
    else:
        # Redis re-delivers a message not acknowledged within this time; jobs hold a database lease
        # instead, so this only has to outlast the longest job, not to be tight.
        transport_options = {"visibility_timeout": settings.broker_visibility_timeout}
    app.conf.update(
        task_acks_late=True,  # a job's message is acknowledged only when the job has run
        task_reject_on_worker_lost=True,  # ...and handed back if the worker process dies under it
        worker_prefetch_multiplier=1,  # a busy worker holds no second job that another worker could run
        worker_concurrency=1,  # one job per accelerator; run more workers to scale
        task_ignore_result=True,  # the job table is the source of truth, never a result backend
        task_serializer="json",
        accept_content=["json"],
        task_queues=[Queue(kind, Exchange(kind), routing_key=kind) for kind in TASK_FOR_KIND],
        task_routes={task: {"queue": kind, "routing_key": kind} for kind, task in TASK_FOR_KIND.items()},
        task_default_queue="sample",
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


celery_app = make_celery(get_settings())
