"""The Celery app. The API imports it to publish; it must stay free of torch (tasks import that lazily)."""

from celery import Celery
from kombu import Exchange, Queue

from services.settings import Settings, get_settings

TASK_FOR_KIND = {"sample": "jobs.sample", "train": "jobs.train"}


def make_celery(settings: Settings) -> Celery:
    app = Celery("diffusion_jobs", broker=settings.broker_url, include=["worker.tasks"])
    if settings.embedded_broker:
        # Celery's file transport: a folder of messages, shared by the API and workers of one machine.
        app.conf.broker_transport = "worker.broker:Transport"
        folder = settings.data_dir / "broker"
        folder.mkdir(parents=True, exist_ok=True)
        transport_options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
                             "control_folder": str(folder / "control"),
                             "polling_interval": settings.broker_polling_interval}
    else:
        # Redis re-delivers a message not acknowledged within this time; jobs hold a database lease
        # instead, so this only has to outlast the longest job, not to be tight. Workers look for such
        # messages every quarter of it (at most every 10 s; kombu's own default is every 100 s).
        timeout = settings.broker_visibility_timeout
        transport_options = {"visibility_timeout": timeout, "unacked_restore_throttle": 1,
                             "unacked_restore_interval": min(10, max(1, timeout // 4))}
    app.conf.update(
        task_acks_late=True,  # a job's message is acknowledged only when the job has run
        task_reject_on_worker_lost=True,  # ...and handed back if the worker process dies under it
        # How long a dead pool process's task waits for a result it might have sent before it counts as lost
        # (Celery's default is 10 s, during which the worker takes no job). Results are never read here, and a
        # job that did finish finds nothing to claim when its message comes back.
        worker_lost_wait=1.0,
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
