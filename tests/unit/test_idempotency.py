"""Idempotency-Key on job submission, through the real app in-process, and the race between two requests."""

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import app
from api.deps import get_publisher
from services.db import get_session_factory
from services.db.models import Job
from services.jobs import lifecycle
from services.jobs.idempotency import submit_once
from services.jobs.states import JobKind


@pytest.fixture
def published(data_dir: Path) -> list[str]:
    sent: list[str] = []
    app.dependency_overrides[get_publisher] = lambda: lambda job: sent.append(job.id)
    yield sent
    app.dependency_overrides.clear()


@pytest.fixture
def client(published: list[str]) -> TestClient:
    return TestClient(app)


@pytest.fixture
def model_id(client: TestClient, tiny_model_dir: Path) -> str:
    return client.post("/v1/models", json={"path": str(tiny_model_dir)}).json()["id"]


def test_the_same_key_and_request_give_the_same_job_once(client: TestClient, model_id: str,
                                                         published: list[str]) -> None:
    body = {"model_id": model_id, "num_inference_steps": 5}
    first = client.post("/v1/samples", json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post("/v1/samples", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.json()["input"]["seed"] == first.json()["input"]["seed"]
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert published == [first.json()["id"]]
    other = client.post("/v1/samples", json=body, headers={"Idempotency-Key": "k-2"})
    plain = [client.post("/v1/samples", json=body).json()["id"] for _ in range(2)]
    assert len({first.json()["id"], other.json()["id"], *plain}) == 4


def test_the_same_key_with_another_request_is_refused(client: TestClient, model_id: str) -> None:
    client.post("/v1/samples", json={"model_id": model_id, "seed": 1}, headers={"Idempotency-Key": "k"})
    changed = client.post("/v1/samples", json={"model_id": model_id, "seed": 2}, headers={"Idempotency-Key": "k"})
    assert changed.status_code == 422
    error = changed.json()["error"]
    assert error["type"] == "idempotency_key_reused" and error["fields"][0]["field"] == "Idempotency-Key"
    training = client.post("/v1/trainings", json={"dataset_id": "digits", "preset": "tiny", "image_size": 8},
                           headers={"Idempotency-Key": "k"})
    assert training.status_code == 422 and training.json()["error"]["type"] == "idempotency_key_reused"
    assert len(client.get("/v1/jobs").json()["items"]) == 1


def test_training_submissions_are_idempotent_too(client: TestClient, published: list[str]) -> None:
    body = {"dataset_id": "digits", "preset": "tiny", "image_size": 8, "max_steps": 5}
    ids = {client.post("/v1/trainings", json=body, headers={"Idempotency-Key": "t"}).json()["id"] for _ in range(3)}
    assert len(ids) == 1 and published == list(ids)


def test_keys_belong_to_their_owner(client: TestClient, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.settings import get_settings

    monkeypatch.setenv("DJ_API_KEYS", "a:alice,b:bob")
    get_settings.cache_clear()
    ids = []
    for key in ("a", "b"):
        headers = {"X-API-Key": key, "Idempotency-Key": "shared"}
        model = client.post("/v1/models", json={"path": str(tiny_model_dir)}, headers=headers).json()["id"]
        response = client.post("/v1/samples", json={"model_id": model}, headers=headers)
        assert response.status_code == 202 and "Idempotent-Replayed" not in response.headers
        ids.append(response.json()["id"])
    assert ids[0] != ids[1]


def test_a_key_too_long_is_a_422_naming_the_header(client: TestClient, model_id: str) -> None:
    response = client.post("/v1/samples", json={"model_id": model_id}, headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 422 and response.json()["error"]["fields"][0]["field"] == "Idempotency-Key"


def test_two_concurrent_requests_with_one_key_make_one_job(data_dir: Path) -> None:
    """B reads no job for the key, then A reads none either; both insert: the loser answers with the winner's job."""
    b_looked = threading.Event()
    results: dict[str, tuple[str, bool]] = {}

    def submit(name: str) -> None:
        session = get_session_factory()()

        def make() -> Job:
            if name == "a":
                assert b_looked.wait(10)
            else:
                b_looked.set()
            return lifecycle.create_job(session, owner="o", kind=JobKind.SAMPLE, input={"n": 1})

        try:
            job, replayed = submit_once(session, owner="o", key="k", kind="sample", request={"n": 1},
                                        submit=make, publish=lambda job: None)
            results[name] = (job.id, replayed)
        finally:
            session.close()

    threads = [threading.Thread(target=submit, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results["a"][0] == results["b"][0]
    assert sorted(replayed for _, replayed in results.values()) == [False, True]
    with get_session_factory()() as session:
        assert session.query(Job).count() == 1
