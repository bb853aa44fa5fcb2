"""Progress of a running job: written to its row from a background thread, with the lease heartbeat.

The step loop only records its state in memory; a thread flushes it (throttled) and renews the lease, so
database round trips never slow the loop, and a cancel request (or a stopping worker's request to let go of
the job) is seen within one interval. The job's time limit is checked at every step.
"""

import logging
import threading
import time
from typing import Any

from services.db import session_scope
from services.jobs.lifecycle import StopRequest, record_progress

log = logging.getLogger(__name__)


class JobInterrupted(Exception):
    """Raised at a step boundary when the run must end early; a training saves a checkpoint first."""


class JobCanceled(JobInterrupted):
    """The job was asked to stop (or is no longer this worker's)."""


class JobReleased(JobInterrupted):
    """The worker is shutting down: the job goes back to the queue and continues elsewhere."""


class JobTimedOut(JobInterrupted):
    """The run took longer than the job's time limit; the job fails."""

    error_type = "timeout"


class ProgressReporter:
    """Holds step/total/ETA (and loss); ``update`` raises JobCanceled once cancellation was requested."""

    def __init__(
        self, job_id: str, attempt: int, *, interval: float, heartbeat_every: float, time_limit: float | None = None,
    ) -> None:
        self.job_id, self.attempt = job_id, attempt
        self.interval, self.heartbeat_every, self.time_limit = interval, heartbeat_every, time_limit
        self.canceled = threading.Event()
        self.released = threading.Event()
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
        if self.released.is_set():
            raise JobReleased(f"job {self.job_id} was handed back at step {step}: its worker is stopping")
        if self.time_limit is not None and elapsed > self.time_limit:
            raise JobTimedOut(f"the run took longer than the job's time limit of {self.time_limit:g} s "
                              f"(time_limit_seconds); stopped at step {step} of {total}")

    def note(self, **values: Any) -> None:
        """Facts that stay in the progress from now on (the latest preview, the step a training resumed from)."""
        self._notes.update(values)
        self.state = {**self.state, **values}
        self._version += 1

    def _write(self, progress: dict[str, Any] | None) -> None:
        with session_scope() as session:
            stop = record_progress(session, self.job_id, self.attempt, progress)
        if stop is StopRequest.CANCEL:
            self.canceled.set()
        elif stop is StopRequest.RELEASE:
            self.released.set()

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
