"""Start a worker on the configured queues: ``python -m worker [extra celery worker options]``."""

import logging
import os
import sys

from services.settings import get_settings
from worker.app import celery_app


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    extra = sys.argv[1:]
    if not any(arg in ("-n", "--hostname") or arg.startswith("--hostname=") for arg in extra):
        # Jobs record the name of the worker running them, and a stopping worker hands back the jobs under its
        # name: two workers on one host must not share Celery's default name (celery@host).
        extra = ["--hostname", f"worker{os.getpid()}@%h", *extra]
    celery_app.worker_main(["worker", "--queues", settings.worker_queues, "--loglevel", "INFO", *extra])


if __name__ == "__main__":
    main()
