"""API keys and tenant scoping, through the real app in-process (no servers)."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import app
from api.deps import get_publisher
from services.settings import Settings, get_settings


@pytest.fixture
def client(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("DJ_API_KEYS", "alice-key:alice, bob-key:bob")
    get_settings.cache_clear()
    published: list[str] = []
    app.dependency_overrides[get_publisher] = lambda: lambda job: published.append(job.id)
    yield TestClient(app)
    app.dependency_overrides.clear()


def test_requests_without_a_valid_key_are_401(client: TestClient) -> None:
    assert client.get("/v1/jobs").status_code == 401
    response = client.get("/v1/jobs", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401 and response.json()["error"]["type"] == "unauthorized"
    assert client.get("/healthz").status_code == 200  # probes need no key


def test_another_owners_model_and_job_do_not_exist_for_you(client: TestClient, tiny_model_dir: Path) -> None:
    alice = {"Authorization": "Bearer alice-key"}
    bob = {"X-API-Key": "bob-key"}
    model = client.post("/v1/models", json={"path": str(tiny_model_dir)}, headers=alice).json()
    job = client.post("/v1/samples", json={"model_id": model["id"]}, headers=alice)
    assert job.status_code == 202
    assert client.get(f"/v1/models/{model['id']}", headers=bob).status_code == 404
    assert client.get(f"/v1/jobs/{job.json()['id']}", headers=bob).status_code == 404
    assert client.post(f"/v1/jobs/{job.json()['id']}/cancel", headers=bob).status_code == 404
    assert client.get("/v1/jobs", headers=bob).json()["items"] == []
    rejected = client.post("/v1/samples", json={"model_id": model["id"]}, headers=bob)
    assert rejected.status_code == 422 and rejected.json()["error"]["fields"][0]["field"] == "model_id"
    assert [j["id"] for j in client.get("/v1/jobs", headers=alice).json()["items"]] == [job.json()["id"]]


def test_production_refuses_sqlite_and_missing_keys() -> None:
    with pytest.raises(ValueError, match="DJ_DATABASE_URL"):
        Settings(environment="production", api_keys="k:o")
    with pytest.raises(ValueError, match="DJ_API_KEYS"):
        Settings(environment="production", database_url="postgresql+psycopg://db/x")
    with pytest.raises(ValueError, match="key:owner"):
        Settings(api_keys="just-a-key")


def test_folder_registration_is_confined_to_import_dirs(client: TestClient, tiny_model_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DJ_MODEL_IMPORT_DIRS", str(tmp_path / "allowed"))
    get_settings.cache_clear()
    response = client.post("/v1/models", json={"path": str(tiny_model_dir)}, headers={"X-API-Key": "alice-key"})
    assert response.status_code == 422 and "outside" in response.json()["error"]["message"]
