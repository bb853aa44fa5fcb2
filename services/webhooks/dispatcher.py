"""Sending the outbox: a thread that claims due deliveries and POSTs them from a small pool, so a slow receiver
holds one sender for at most the timeout and never the others. No database transaction is open while a POST
is in flight, and nothing here reaches a job: a job's run never waits for its webhook."""

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy.orm import Session

from services.db import session_scope
from services.db.models import Job, WebhookDelivery
from services.settings import Settings
from services.webhooks.deliveries import Outcome, claim_due, record_outcome
from services.webhooks.outbox import EVENT_TYPES
from services.webhooks.signing import owner_key, signed_headers
from services.webhooks.targets import RefusedTarget, check_public

log = logging.getLogger(__name__)

# The job as clients see it (GET /v1/jobs/{id}), JSON-ready; given by the caller, since services know no API.
Renderer = Callable[[Session, Job], dict[str, Any]]

LOCK_MARGIN_SECONDS = 30.0  # a claim outlives the POST's timeout by this much; then another sender may retry it
RESPONSE_EXCERPT_BYTES = 500


class Dispatcher:
    """Delivers due webhook events, ``concurrency`` at a time; safe to run in many processes at once."""

    def __init__(self, render: Renderer, settings: Settings, *, concurrency: int = 4,
                 client: httpx.Client | None = None) -> None:
        self.render, self.settings, self.concurrency = render, settings, concurrency
        self._owns_client = client is None
        self.client = client or httpx.Client(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False,
            headers={"user-agent": "diffusion-jobs-webhooks", "content-type": "application/json"},
        )
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook-send")
        self._in_flight = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()  # a send finished: the job's next event may be due now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Dispatcher":
        self._thread = threading.Thread(target=self._run, name="webhook-dispatch", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: bool = True) -> None:
        """Stop claiming; with ``wait``, return once the sends in flight have ended."""
        self._stop.set()
        self._wake.set()
        if wait and self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=wait)
        if wait and self._owns_client:
            self.client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.poll()
            except Exception:  # the database is down: the next round tries again
                log.warning("webhook dispatch round failed", exc_info=True)
            self._wake.wait(self.settings.webhook_poll_interval_seconds)

    def poll(self) -> int:
        """Claim as many due deliveries as there are idle senders and start sending them."""
        with self._lock:
            free = self.concurrency - self._in_flight
        if free <= 0:
            return 0
        with session_scope() as session:
            claimed = claim_due(session, free, self.settings.webhook_timeout_seconds + LOCK_MARGIN_SECONDS)
        for delivery_id in claimed:
            with self._lock:
                self._in_flight += 1
            self._pool.submit(self.deliver, delivery_id).add_done_callback(self._sent)
        return len(claimed)

    def _sent(self, _: Future) -> None:
        with self._lock:
            self._in_flight -= 1
        self._wake.set()

    def deliver(self, delivery_id: str) -> None:
        """One attempt of a claimed delivery; never raises."""
        try:
            prepared = self._prepare(delivery_id)
            if prepared is None:
                return
            attempt, url, headers, body = prepared
            outcome = self._post(url, headers, body)
        except Exception as error:  # rendering failed (or a bug): counted as a failed attempt, retried
            log.warning("webhook delivery %s could not be prepared", delivery_id, exc_info=True)
            attempt, outcome = None, Outcome(False, error=f"{type(error).__name__}: {error}")
        try:
            with session_scope() as session:
                if attempt is None:
                    delivery = session.get(WebhookDelivery, delivery_id)
                    attempt = delivery.attempts if delivery else 0
                status = record_outcome(session, delivery_id, attempt, outcome, self.settings)
        except Exception:  # the lock runs out and the delivery is tried again
            log.warning("could not record webhook delivery %s", delivery_id, exc_info=True)
            return
        if status != "delivered":
            log.info("webhook delivery %s attempt %d: %s (%s)", delivery_id, attempt, status, outcome.error)

    def _prepare(self, delivery_id: str) -> tuple[int, str, dict[str, str], bytes] | None:
        """The attempt number, URL, signed headers and body, read and rendered in one short transaction."""
        with session_scope() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return None
            job = session.get(Job, delivery.job_id)
            payload = {"type": EVENT_TYPES[delivery.event],
                       "timestamp": delivery.created_at.isoformat().replace("+00:00", "Z"),
                       "data": self.render(session, job)}
            attempt, url, owner = delivery.attempts, delivery.url, delivery.owner
        body = json.dumps(payload, separators=(",", ":")).encode()
        key = owner_key(self.settings.secret_key, owner)
        return attempt, url, signed_headers(key, delivery_id, int(time.time()), body), body

    def _post(self, url: str, headers: dict[str, str], body: bytes) -> Outcome:
        if not self.settings.webhook_allow_private_networks:
            try:
                check_public(url)  # again: the name may resolve elsewhere now than at submission
            except RefusedTarget as error:
                return Outcome(False, error=f"refused: {error}", final=True)
        try:
            with self.client.stream("POST", url, content=body, headers=headers) as response:
                excerpt = b""
                for chunk in response.iter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= RESPONSE_EXCERPT_BYTES:
                        break
        except httpx.HTTPError as error:
            return Outcome(False, error=f"{type(error).__name__}: {error}")
        if response.is_success:
            return Outcome(True, response.status_code)
        text = excerpt[:RESPONSE_EXCERPT_BYTES].decode(errors="replace")
        # 410 Gone: the receiver asks for no more deliveries (Standard Webhooks); redirects are not followed.
        return Outcome(False, response.status_code, f"HTTP {response.status_code}: {text}".strip(),
                       final=response.status_code == 410)
