"""Real processes for integration tests: a database, a broker, `uvicorn` and a `celery worker`, on free ports."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


# Processes started here are killed if the test run itself dies (killed, or out of time) before it can stop
# them: util-linux's setpriv sets the parent-death signal, which survives the exec of the real command.
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as error:  # not up yet
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def unavailable(reason: str) -> None:
    """Skip on a machine without the service; under CI the service must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: these tests must run)")
    pytest.skip(reason)


def child_pids(pid: int) -> list[int]:
    """The pids of a process's children (a worker's pool processes), read from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
    """SIGTERM asks the main process to stop as it is built to (a worker finishes its job); SIGKILL takes the whole
    process group at once, as a crash would; whatever is still alive after ``timeout`` is killed."""
    if process.poll() is not None:
        return
    try:
        if sig == signal.SIGKILL:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        process.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(10)


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen | None = None
    folder: Path | None = None
    port: int | None = None

    @classmethod
    def start(cls, folder: Path) -> "RedisServer":
        """A redis-server of our own on a free port, or the one DJ_TEST_REDIS_URL names."""
        if shutil.which("redis-server") is None:
            url = os.environ.get("DJ_TEST_REDIS_URL")
            if not url:
                unavailable("no redis-server binary and no DJ_TEST_REDIS_URL")
            return cls(url)
        port = free_port()
        server = cls(f"redis://127.0.0.1:{port}/0", folder=folder, port=port)
        server.restart()
        return server

    @staticmethod
    def require_own() -> None:
        """Tests that stop and start the broker need a redis-server binary, not a shared server."""
        if shutil.which("redis-server") is None:
            unavailable("no redis-server binary to stop and start")

    def restart(self) -> None:
        """Start the server (again) on its port; returns once it answers."""
        assert self.folder is not None and self.port is not None, "not a server of our own"
        self.process = subprocess.Popen(
            [*DIE_WITH_PARENT, shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=(self.folder / "redis.log").open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        import redis

        wait_until(lambda: redis.Redis(port=self.port).ping(), 20, "redis-server")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


class TcpForwarder:
    """A TCP port that forwards to another address once ``start`` is called: until then nothing listens on it,
    as if the server behind it had not started yet."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            sockets, self._sockets = [s for s in (self._listener, *self._sockets) if s], []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:  # stopped
                return
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@dataclass
class PostgresDatabase:
    """A fresh database on the PostgreSQL server, dropped afterwards."""

    url: str
    admin_url: str
    name: str

    @classmethod
    def create(cls) -> "PostgresDatabase":
        import psycopg

        admin = os.environ.get("DJ_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        name = f"dj_test_{uuid.uuid4().hex[:12]}"
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as error:
            unavailable(f"no PostgreSQL server at {admin} ({error}); set DJ_TEST_POSTGRES_URL")
        base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        return cls(url=f"{base}/{name}", admin_url=admin, name=name)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class Stack:
    """An API process and a worker process sharing one database, broker and artifact folder."""

    folder: Path
    env: dict[str, str]
    api_port: int = field(default_factory=free_port)
    api: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        log = (self.folder / log_name).open("ab")
        return subprocess.Popen([*DIE_WITH_PARENT, *args], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "services.db.migrate"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True)

    def start_api(self, wait_for: str = "/readyz") -> None:
        """Start uvicorn and wait until ``wait_for`` answers 200: ready by default, or only alive (``/healthz``)."""
        self.api = self._spawn([sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
                                "--port", str(self.api_port)], "api.log")
        wait_until(lambda: self.client().get(wait_for).status_code == 200, 60, f"the API to answer {wait_for}")

    def start_worker(self, *extra: str) -> subprocess.Popen:
        worker = self._spawn([sys.executable, "-m", "worker", "--pool", "prefork", *extra], "worker.log")
        self.workers.append(worker)
        return worker

    def workers_ready(self) -> int:
        """How many times a worker connected to the broker and started consuming ("<name> ready."), counted over
        the workers' log, which is kept across restarts."""
        return self.worker_log().count(" ready.")

    def wait_for_workers(self, count: int = 1, timeout: float = 120) -> None:
        """Wait until ``workers_ready`` reaches ``count``."""
        wait_until(lambda: self.workers_ready() >= count, timeout, f"{count} worker(s) to be ready", interval=0.2)

    def stop_workers(self, sig: int = signal.SIGTERM) -> None:
        for worker in self.workers:
            stop_process(worker, sig)
        self.workers.clear()

    def stop(self) -> None:
        self.stop_workers()
        if self.api is not None:
            stop_process(self.api)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", timeout=30)

    def job(self, job_id: str) -> dict[str, Any]:
        with self.client() as client:
            return client.get(f"/v1/jobs/{job_id}").json()

    def worker_log(self) -> str:
        return (self.folder / "worker.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.folder.glob("*.log"))

    def wait_for_job(self, job_id: str, statuses: set[str], timeout: float = 120) -> dict[str, Any]:
        with self.client() as client:
            def done() -> dict[str, Any] | None:
                job = client.get(f"/v1/jobs/{job_id}").json()
                return job if job["status"] in statuses else None

            try:
                return wait_until(done, timeout, f"job {job_id} to reach {statuses}", interval=0.1)
            except TimeoutError as error:
                raise AssertionError(f"{error}\n{self.logs()}") from None
