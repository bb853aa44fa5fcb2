"""A webhook receiver on loopback for tests: records every POST and answers as the test says."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived
    status: int  # what the receiver answered

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


# Given the request and how many came before it, the status to answer (it may block first, as a slow receiver).
Responder = Callable[["Receiver", str, int], int]


def always(status: int) -> Responder:
    return lambda receiver, path, index: status


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1 and a free port. ``listening=False`` binds the port without listening,
    so connections are refused until ``listen()``."""

    def __init__(self, respond: Responder = always(200), *, listening: bool = True) -> None:
        self.respond = respond
        self.received: list[Received] = []
        self.released = threading.Event()  # set on stop: responders that hang return
        self._lock = threading.Lock()
        self._count = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(), bind_and_activate=False)
        self._server.daemon_threads = True
        self._server.server_bind()
        self._thread: threading.Thread | None = None
        if listening:
            self.listen()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def listen(self) -> None:
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.released.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def hang(self, seconds: float) -> None:
        """Block the answer (until the receiver stops)."""
        self.released.wait(seconds)

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """The first ``count`` requests, once they have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise TimeoutError(f"the receiver got {len(self.received)} of {count} requests in {timeout}s")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                at = time.time()
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    index = receiver._count
                    receiver._count += 1
                status = receiver.respond(receiver, self.path, index)
                with receiver._lock:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, at, status))
                try:
                    self.send_response(status)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"no" if status >= 300 else b"ok")
                except OSError:  # the sender gave up waiting (a timeout test)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        return Handler
