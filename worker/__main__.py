"""Start a worker on the configured queues: ``python -m worker [extra celery worker options]``."""

import logging
import sys

from services.settings import get_settings
from worker.app import celery_app


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    celery_app.worker_main(["worker", "--queues", settings.worker_queues, "--loglevel", "INFO", *sys.argv[1:]])


if __name__ == "__main__":
    main()
