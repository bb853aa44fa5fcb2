"""One stack per backend: the embedded default (SQLite + file broker) and PostgreSQL + Redis."""

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.clip_factory import save_tiny_clip
from tests.integration.stack import PostgresDatabase, RedisServer, Stack

BACKENDS = ["embedded", "postgres-redis"]


def stack_env(folder: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJ_")}
    env.update({"DJ_DATA_DIR": str(folder / "var"), "PYTHONUNBUFFERED": "1",
                "DJ_PROGRESS_INTERVAL_SECONDS": "0.05",
                # Short leases so tests that kill workers see their jobs recovered within seconds.
                "DJ_JOB_LEASE_SECONDS": "4", "DJ_JOB_RECOVERY_INTERVAL_SECONDS": "1",
                # Webhook retries and progress events within a test's seconds, not a receiver's minutes.
                "DJ_WEBHOOK_RETRY_BASE_SECONDS": "0.3", "DJ_WEBHOOK_PROGRESS_INTERVAL_SECONDS": "0.2",
                "DJ_WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
                # No hub is reachable from tests: the hub client fails at once instead of retrying for ~20 s.
                "HF_HUB_OFFLINE": "1"})
    env.update({f"DJ_{key.upper()}": value for key, value in settings.items()})
    return env


@contextmanager
def backend_services(backend: str, folder: Path) -> Iterator[tuple[dict[str, str], RedisServer | None]]:
    """The database and broker settings of ``backend``, on a database and a redis-server of their own that are
    removed afterwards; the embedded default needs no servers."""
    if backend == "embedded":
        yield {}, None
        return
    database = PostgresDatabase.create()
    try:
        redis = RedisServer.start(folder)
        try:
            yield {"database_url": database.url, "broker_url": redis.url}, redis
        finally:
            redis.stop()
    finally:
        database.drop()


@contextmanager
def running_stack(folder: Path, settings: dict[str, str], workers: int = 1) -> Iterator[Stack]:
    """A migrated database, a ready API and ``workers`` workers; all stopped afterwards, their logs shown if a
    test failed."""
    stack = Stack(folder=folder, env=stack_env(folder, **settings))
    failed = True
    try:
        stack.migrate()
        stack.start_api()
        for _ in range(workers):
            stack.start_worker()
        stack.wait_for_workers(workers)
        yield stack
        failed = False
    finally:
        stack.stop()
        if failed:
            sys.stderr.write(stack.logs())


@pytest.fixture(scope="session", params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running API and worker on one backend, shared by the tests of that backend."""
    folder = tmp_path_factory.mktemp(request.param)
    with backend_services(request.param, folder) as (settings, _):
        settings["clip_model"] = str(save_tiny_clip(folder / "clip"))  # CLIP guidance without a hub
        with running_stack(folder, settings) as stack:
            yield stack
            if request.session.testsfailed:
                sys.stderr.write(stack.logs())


def register_model(stack: Stack, path: Path) -> str:
    with stack.client() as client:
        response = client.post("/v1/models", json={"path": str(path), "name": path.name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="session")
def model_id(stack: Stack, tiny_model_dir: Path) -> str:
    model_id = register_model(stack, tiny_model_dir)
    with stack.client() as client:
        model = client.get(f"/v1/models/{model_id}").json()
    assert (model["sample_size"], model["in_channels"], model["scheduler_class"]) == (16, 3, "DDPMScheduler")
    return model_id


# Seconds each fault test measured from the fault's end to the job's recovery, printed after the run.
RECOVERY_TIMES: list[tuple[str, str, float]] = []


@pytest.fixture
def recovery_time(request: pytest.FixtureRequest) -> Callable[[str, float], None]:
    """``recovery_time(what, seconds)`` records a measured recovery for the summary at the end of the run."""

    def record(what: str, seconds: float) -> None:
        RECOVERY_TIMES.append((request.node.name, what, seconds))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RECOVERY_TIMES:
        return
    terminalreporter.section("recovery after injected faults")
    width = max(len(test) for test, _, _ in RECOVERY_TIMES)
    for test, what, seconds in RECOVERY_TIMES:
        terminalreporter.write_line(f"{test:<{width}}  {seconds:7.1f} s  {what}")


def submit(stack: Stack, **body: Any) -> dict[str, Any]:
    with stack.client() as client:
        response = client.post("/v1/samples", json=body)
    assert response.status_code == 202, response.text
    return response.json()
