"""Webhooks through the real app in-process: URL checks at submission, the caller's secret, a job's deliveries."""

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import app
from api.deps import get_publisher
from api.schemas.jobs import JobOut
from services.db import session_scope
from services.db.models import Job
from services.jobs import lifecycle
from services.jobs.queries import job_artifacts
from services.settings import get_settings
from services.webhooks.signing import decode_secret, owner_key
from services.webhooks.targets import RefusedTarget, check_public, check_url
from worker.webhooks import render_job

ALICE, BOB = {"X-API-Key": "alice-key"}, {"X-API-Key": "bob-key"}


@pytest.fixture
def client(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("DJ_API_KEYS", "alice-key:alice,bob-key:bob")
    monkeypatch.setenv("DJ_SECRET_KEY", "a-test-secret")
    get_settings.cache_clear()
    app.dependency_overrides[get_publisher] = lambda: lambda job: None
    yield TestClient(app)
    app.dependency_overrides.clear()


@pytest.fixture
def model_id(client: TestClient, tiny_model_dir: Path) -> str:
    return client.post("/v1/models", json={"path": str(tiny_model_dir)}, headers=ALICE).json()["id"]


def submit(client: TestClient, model_id: str, webhook: dict[str, Any]) -> Any:
    return client.post("/v1/samples", json={"model_id": model_id, "webhook": webhook}, headers=ALICE)


def test_each_owner_gets_their_own_secret(client: TestClient) -> None:
    alice = client.get("/v1/webhooks/secret", headers=ALICE).json()["secret"]
    bob = client.get("/v1/webhooks/secret", headers=BOB).json()["secret"]
    assert alice.startswith("whsec_") and alice != bob
    assert decode_secret(alice) == owner_key("a-test-secret", "alice")
    assert client.get("/v1/webhooks/secret").status_code == 401


def test_a_webhook_is_kept_with_the_job_and_its_deliveries_are_listed(client: TestClient, model_id: str) -> None:
    job = submit(client, model_id, {"url": "https://example.com/hook", "events": ["completed", "started",
                                                                                  "completed"]})
    assert job.status_code == 202, job.text
    job_id = job.json()["id"]
    assert job.json()["input"]["webhook"] == {"url": "https://example.com/hook", "events": ["completed", "started"]}
    assert client.get(f"/v1/jobs/{job_id}/webhooks", headers=ALICE).json() == {"items": []}
    client.post(f"/v1/jobs/{job_id}/cancel", headers=ALICE)
    (delivery,) = client.get(f"/v1/jobs/{job_id}/webhooks", headers=ALICE).json()["items"]
    assert delivery["event"] == "completed" and delivery["status"] == "pending" and delivery["attempts"] == 0
    assert delivery["url"] == "https://example.com/hook" and delivery["next_attempt_at"] is not None
    assert client.get(f"/v1/jobs/{job_id}/webhooks", headers=BOB).status_code == 404
    assert client.get("/v1/jobs/nope/webhooks", headers=ALICE).status_code == 404
    no_webhook = client.post("/v1/samples", json={"model_id": model_id}, headers=ALICE).json()
    assert no_webhook["input"]["webhook"] is None


@pytest.mark.parametrize(
    ("url", "message"),
    [("ftp://example.com/x", "http or https"), ("http:///path-only", "must name a host"),
     ("example.com/hook", "http or https"), ("http://user:pw@example.com/", "credentials"),
     ("http://example.com:port/", "not a valid URL")],
)
def test_a_bad_webhook_url_is_a_422_naming_the_field(client: TestClient, model_id: str, url: str,
                                                     message: str) -> None:
    response = submit(client, model_id, {"url": url, "events": ["completed"]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == ["webhook.url"] and message in error["message"]
    training = client.post("/v1/trainings", json={"dataset_id": "digits", "preset": "tiny", "image_size": 8,
                                                  "webhook": {"url": url}}, headers=ALICE)
    assert training.status_code == 422 and training.json()["error"]["fields"][0]["field"] == "webhook.url"


def test_unknown_events_are_a_422(client: TestClient, model_id: str) -> None:
    response = submit(client, model_id, {"url": "https://example.com/", "events": ["finished"]})
    assert response.status_code == 422 and response.json()["error"]["fields"][0]["field"] == "webhook.events.0"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.1.2.3/",
                                 "http://192.168.0.10/", "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"])
def test_internal_addresses_are_refused_when_private_networks_are_off(
    client: TestClient, model_id: str, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    assert submit(client, model_id, {"url": url}).status_code == 202  # allowed by default
    monkeypatch.setenv("DJ_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "false")
    get_settings.cache_clear()
    response = submit(client, model_id, {"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == "webhook.url"
    assert "internal address" in response.json()["error"]["message"]


def test_public_addresses_pass_when_private_networks_are_off(client: TestClient, model_id: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJ_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "false")
    get_settings.cache_clear()
    assert submit(client, model_id, {"url": "https://93.184.215.14/hook"}).status_code == 202
    assert submit(client, model_id, {"url": "http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/"}).status_code == 202


def test_url_checks_without_the_api() -> None:
    assert check_url("https://Example.COM:8443/a?b=c") == "example.com"
    with pytest.raises(RefusedTarget, match="does not resolve"):
        check_public("http://no-such-host.invalid/")


def test_the_rendered_job_is_the_job_as_the_api_returns_it(client: TestClient, model_id: str) -> None:
    job_id = submit(client, model_id, {"url": "https://example.com/"}).json()["id"]
    with session_scope() as session:
        job = session.get(Job, job_id)
        rendered = render_job(session, job)
        assert rendered == JobOut.of(job, job_artifacts(session, [job_id])[job_id]).model_dump(mode="json")
    assert rendered == client.get(f"/v1/jobs/{job_id}", headers=ALICE).json()
    with session_scope() as session:
        lifecycle.claim(session, job_id, worker="w", max_attempts=3, lease_seconds=30)
    with session_scope() as session:
        assert render_job(session, session.get(Job, job_id))["status"] == "running"
