"""One stack per backend: the embedded default (SQLite + file broker) and PostgreSQL + Redis."""

import os
import sys
from collections.abc import Iterator
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


@pytest.fixture(scope="session", params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running API and worker on one backend, shared by the tests of that backend."""
    folder = tmp_path_factory.mktemp(request.param)
    cleanups = []
    settings: dict[str, str] = {}
    if request.param == "postgres-redis":
        database = PostgresDatabase.create()
        cleanups.append(database.drop)
        redis = RedisServer.start(folder)
        cleanups.append(redis.stop)
        settings = {"database_url": database.url, "broker_url": redis.url}
    settings["clip_model"] = str(save_tiny_clip(folder / "clip"))  # CLIP guidance without a hub
    stack = Stack(folder=folder, env=stack_env(folder, **settings))
    try:
        stack.migrate()
        stack.start_api()
        stack.start_worker()
        yield stack
    finally:
        stack.stop()
        for cleanup in reversed(cleanups):
            cleanup()
        if request.session.testsfailed:
            sys.stderr.write(stack.logs())


@pytest.fixture(scope="session")
def model_id(stack: Stack, tiny_model_dir: Path) -> str:
    with stack.client() as client:
        response = client.post("/v1/models", json={"path": str(tiny_model_dir), "name": "tiny"})
    assert response.status_code == 201, response.text
    model = response.json()
    assert (model["sample_size"], model["in_channels"], model["scheduler_class"]) == (16, 3, "DDPMScheduler")
    return model["id"]


def submit(stack: Stack, **body: Any) -> dict[str, Any]:
    with stack.client() as client:
        response = client.post("/v1/samples", json=body)
    assert response.status_code == 202, response.text
    return response.json()
