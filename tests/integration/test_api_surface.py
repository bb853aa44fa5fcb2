"""Listing, lookups, the model registry and the documented schema, over HTTP against real processes."""

from pathlib import Path

import pytest

from tests.integration.stack import Stack
from tests.integration.conftest import submit

pytestmark = pytest.mark.integration


def test_job_list_is_newest_first_filtered_and_paginated(stack: Stack, model_id: str) -> None:
    submitted = [submit(stack, model_id=model_id, num_inference_steps=2)["id"] for _ in range(5)]
    for job_id in submitted:
        stack.wait_for_job(job_id, {"succeeded"})
    seen: list[str] = []
    cursor = None
    with stack.client() as client:
        while True:
            params = {"kind": "sample", "status": "succeeded", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/jobs", params=params).json()
            assert len(page["items"]) <= 2
            assert all(j["kind"] == "sample" and j["status"] == "succeeded" for j in page["items"])
            seen += [j["id"] for j in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert client.get("/v1/jobs", params={"kind": "train"}).json()["items"] == []
        assert client.get("/v1/jobs", params={"cursor": "garbage!"}).status_code == 422
        assert client.get("/v1/jobs", params={"status": "lost"}).status_code == 422
    assert len(seen) == len(set(seen))
    assert seen[:5] == list(reversed(submitted))  # the newest first


@pytest.mark.parametrize("path", ["/v1/jobs/nope", "/v1/artifacts/nope", "/v1/artifacts/nope/content",
                                  "/v1/models/nope"])
def test_unknown_ids_are_404_with_the_error_shape(stack: Stack, path: str) -> None:
    with stack.client() as client:
        response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


def test_registering_a_folder_that_is_not_a_pipeline_names_the_field(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with stack.client() as client:
        missing = client.post("/v1/models", json={"path": str(tmp_path / "nowhere")})
        empty = client.post("/v1/models", json={"path": str(tmp_path / "empty")})
        both = client.post("/v1/models", json={"path": str(tmp_path), "hub_id": "a/b"})
    assert missing.status_code == empty.status_code == both.status_code == 422
    assert missing.json()["error"]["fields"][0]["field"] == "path"
    assert "unet/config.json" in empty.json()["error"]["message"]
    assert "exactly one of path or hub_id" in both.json()["error"]["message"]


def test_hub_registration_says_when_the_hub_cannot_be_reached(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post("/v1/models", json={"hub_id": "google/ddpm-cifar10-32"})
    assert response.status_code == 503
    assert "hub" in response.json()["error"]["message"]


def test_registered_model_is_listed_and_readable(stack: Stack, model_id: str) -> None:
    with stack.client() as client:
        assert model_id in [m["id"] for m in client.get("/v1/models").json()["items"]]
        assert client.get(f"/v1/models/{model_id}").json()["source_type"] == "folder"


def test_schedulers_and_openapi_document_the_surface(stack: Stack) -> None:
    with stack.client() as client:
        names = [s["name"] for s in client.get("/v1/schedulers").json()["items"]]
        schema = client.get("/openapi.json").json()
    assert {"ddpm", "ddim", "dpm_solver_multistep", "euler", "euler_ancestral", "pndm"} <= set(names)
    sample = schema["components"]["schemas"]["SampleRequest"]
    assert all(prop.get("description") for prop in sample["properties"].values())
    assert "422" in schema["paths"]["/v1/samples"]["post"]["responses"]
    assert "404" in schema["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]
