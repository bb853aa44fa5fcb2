"""Watching a job: yields its state whenever it changes, ending with its final state."""

import time
from collections.abc import Iterator

from services.access import get_readable
from services.db import session_scope
from services.db.models import Artifact, Job
from services.jobs.queries import job_artifacts
from services.jobs.states import FINAL_STATES


def watch_job(job_id: str, owner: str, *, interval: float = 0.25, keepalive: float = 15.0
              ) -> Iterator[tuple[Job, list[Artifact]] | None]:
    """The current state first, then every change; ``None`` now and then as a keep-alive while nothing moves."""
    last_seen: tuple | None = None
    quiet_since = time.monotonic()
    while True:
        with session_scope() as session:
            job = get_readable(session, Job, job_id, owner)
            artifacts = job_artifacts(session, [job_id])[job_id]
        fingerprint = (job.status, repr(job.progress), job.attempts, job.cancel_requested, len(artifacts))
        if fingerprint != last_seen:
            last_seen, quiet_since = fingerprint, time.monotonic()
            yield job, artifacts
            if job.status in FINAL_STATES:
                return
        elif time.monotonic() - quiet_since >= keepalive:
            quiet_since = time.monotonic()
            yield None
        time.sleep(interval)
