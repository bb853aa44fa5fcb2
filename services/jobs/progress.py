"""Progress of a running job: throttled writes to its row, a lease heartbeat, and cooperative cancellation."""

import threading
import time
from typing import Any

from services.db import session_scope
from services.jobs.lifecycle import record_progress


class JobCanceled(Exception):
    """Raised at a step boundary when the job was asked to stop."""


class ProgressReporter:
    """Writes step/total/ETA (and loss) to the job at most every ``interval`` seconds; raises when canceled."""

    def __init__(self, job_id: str, attempt: int, *, interval: float) -> None:
        self.job_id, self.attempt, self.interval = job_id, attempt, interval
        self.canceled = threading.Event()
        self._started = time.monotonic()
        self._last_write = float("-inf")
        self.state: dict[str, Any] = {}

    def update(self, step: int, total: int, *, force: bool = False, **extra: Any) -> None:
        """Record that ``step`` of ``total`` is done; stop here if cancellation was requested."""
        elapsed = time.monotonic() - self._started
        eta = elapsed / step * (total - step) if step else None
        self.state = {
            "step": step, "total": total, "fraction": round(step / total, 4) if total else 1.0,
            "eta_s": round(eta, 2) if eta is not None else None, **extra,
        }
        now = time.monotonic()
        if force or now - self._last_write >= self.interval:
            self._last_write = now
            with session_scope() as session:
                if record_progress(session, self.job_id, self.attempt, self.state):
                    self.canceled.set()
        if self.canceled.is_set():
            raise JobCanceled(f"job {self.job_id} was canceled at step {step}")


class Heartbeat:
    """Renews the job's lease from a background thread while the work runs (model loading included)."""

    def __init__(self, reporter: ProgressReporter, every: float) -> None:
        self._reporter, self._every = reporter, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{reporter.job_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                with session_scope() as session:
                    if record_progress(session, self._reporter.job_id, self._reporter.attempt):
                        self._reporter.canceled.set()
            except Exception:  # a missed beat is retried; the lease is several beats long
                continue

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
