"""Model download and deletion, and class labels of sample requests, through the app in-process."""

import io
import zipfile
from pathlib import Path

import pytest
import torch
from diffusers import DDPMPipeline
from fastapi.testclient import TestClient

from api.app import app
from api.deps import get_publisher
from tests.factories import save_tiny_pipeline


@pytest.fixture
def client(data_dir: Path) -> TestClient:
    app.dependency_overrides[get_publisher] = lambda: lambda job: None
    yield TestClient(app)
    app.dependency_overrides.clear()


@pytest.fixture(scope="module")
def class_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_pipeline(tmp_path_factory.mktemp("m") / "cond", num_class_embeds=4)


def test_downloaded_archive_loads_with_plain_diffusers(client: TestClient, tiny_model_dir: Path, tmp_path: Path) -> None:
    model = client.post("/v1/models", json={"path": str(tiny_model_dir), "name": "tiny"}).json()
    response = client.get(f"/v1/models/{model['id']}/download")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path)
    pipeline = DDPMPipeline.from_pretrained(tmp_path / "tiny")
    original = DDPMPipeline.from_pretrained(tiny_model_dir)
    for ours, theirs in zip(pipeline.unet.parameters(), original.unet.parameters(), strict=True):
        assert torch.equal(ours, theirs)


def test_deleted_model_is_gone_with_its_files(client: TestClient, tiny_model_dir: Path, data_dir: Path) -> None:
    model = client.post("/v1/models", json={"path": str(tiny_model_dir)}).json()
    assert client.delete(f"/v1/models/{model['id']}").status_code == 204
    assert client.get(f"/v1/models/{model['id']}").status_code == 404
    assert client.delete(f"/v1/models/{model['id']}").status_code == 404
    assert not (data_dir / "artifacts" / "models" / model["id"]).exists()
    rejected = client.post("/v1/samples", json={"model_id": model["id"]})
    assert rejected.status_code == 422


def test_class_labels_by_index_or_name_are_resolved(client: TestClient, class_model_dir: Path) -> None:
    model = client.post("/v1/models", json={"path": str(class_model_dir)}).json()
    assert model["num_class_embeds"] == 4
    job = client.post("/v1/samples", json={"model_id": model["id"], "num_images": 3, "class_labels": [3, 0, 2]})
    assert job.status_code == 202 and job.json()["input"]["class_labels"] == [3, 0, 2]
    cycled = client.post("/v1/samples", json={"model_id": model["id"], "num_images": 5}).json()
    assert cycled["input"]["class_labels"] == [0, 1, 2, 3, 0]


@pytest.mark.parametrize(("labels", "hint"), [([7], "not a class"), ([0, 1], "one label per image"),
                                              (["cat"], "not a class")])
def test_bad_class_labels_are_422(client: TestClient, class_model_dir: Path, labels: list, hint: str) -> None:
    model = client.post("/v1/models", json={"path": str(class_model_dir)}).json()
    response = client.post("/v1/samples", json={"model_id": model["id"], "class_labels": labels})
    assert response.status_code == 422 and hint in response.json()["error"]["message"]
    assert response.json()["error"]["fields"][0]["field"] == "class_labels"


def test_labels_for_an_unconditional_model_are_422(client: TestClient, tiny_model_dir: Path) -> None:
    model = client.post("/v1/models", json={"path": str(tiny_model_dir)}).json()
    response = client.post("/v1/samples", json={"model_id": model["id"], "class_labels": [0]})
    assert response.status_code == 422 and "not class-conditioned" in response.json()["error"]["message"]
