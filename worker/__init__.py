"""The Celery app and its thin tasks: claim the job, call a service, finish the job."""
