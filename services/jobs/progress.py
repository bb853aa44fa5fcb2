"""Progress of a running job: written to its row from a background thread, with the lease heartbeat.

The step loop only records its state in memory; a thread flushes it (throttled) and renews the lease, so
database round trips never slow the loop, and a cancel request is seen within one interval.
"""

import logging
import threading
import time
from typing import Any

from services.db import session_scope
from services.jobs.lifecycle import record_progress

log = logging.getLogger(__name__)


class JobCanceled(Exception):
    """Raised at a step boundary when the job was asked to stop."""


class ProgressReporter:
    """Holds step/total/ETA (and loss); ``update`` raises JobCanceled once cancellation was requested."""

    def __init__(self, job_id: str, attempt: int, *, interval: float, heartbeat_every: float) -> None:
        self.job_id, self.attempt = job_id, attempt
        self.interval, self.heartbeat_every = interval, heartbeat_every
        self.canceled = threading.Event()
        self.state: dict[str, Any] = {}
        self._notes: dict[str, Any] = {}
        self._version = 0
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"progress-{job_id}", daemon=True)

    def update(self, step: int, total: int, **extra: Any) -> None:
        """Record that ``step`` of ``total`` is done; stop here if cancellation was requested."""
        elapsed = time.monotonic() - self._started
        eta = elapsed / step * (total - step) if step else None
        self.state = {
            "step": step, "total": total, "fraction": round(step / total, 4) if total else 1.0,
            "eta_s": round(eta, 2) if eta is not None else None, **self._notes, **extra,
        }
        self._version += 1
        if self.canceled.is_set():
            raise JobCanceled(f"job {self.job_id} was canceled at step {step}")

    def note(self, **values: Any) -> None:
        """Facts that stay in the progress from now on (the latest preview, the step a training resumed from)."""
        self._notes.update(values)
        self.state = {**self.state, **values}
        self._version += 1

    def _write(self, progress: dict[str, Any] | None) -> None:
        with session_scope() as session:
            if record_progress(session, self.job_id, self.attempt, progress):
                self.canceled.set()

    def _run(self) -> None:
        written_version, last_write = 0, time.monotonic()
        while not self._stop.wait(min(self.interval, self.heartbeat_every) or 0.01):
            version, now = self._version, time.monotonic()
            try:
                if version != written_version and now - last_write >= self.interval:
                    self._write(dict(self.state))
                elif now - last_write >= self.heartbeat_every:
                    self._write(None)
                else:
                    continue
            except Exception:  # a missed write is retried; the lease is several heartbeats long
                log.warning("progress write for job %s failed", self.job_id, exc_info=True)
                continue
            written_version, last_write = version, now

    def __enter__(self) -> "ProgressReporter":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
