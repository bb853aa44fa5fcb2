"""Dataset uploads through the real API process, on both backends."""

import io
import zipfile

import pytest
from PIL import Image

from tests.integration.stack import Stack

pytestmark = pytest.mark.integration


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def gray_png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16), value).save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploaded_zip_is_stored_and_read_back(stack: Stack) -> None:
    images = {f"tones/{kind}/{i}.png": gray_png(value) for kind, value in (("dark", 20), ("light", 230))
              for i in range(3)}
    with stack.client() as client:
        refused = client.post("/v1/datasets", files={"file": ("tones.zip", zip_of(images | {"tones/a.txt": b"hi"}))})
        assert refused.status_code == 422 and "tones/a.txt is not an image" in refused.json()["error"]["message"]
        created = client.post("/v1/datasets", files={"file": ("tones.zip", zip_of(images), "application/zip")},
                              data={"name": "tones"})
        assert created.status_code == 201, created.text
        dataset = created.json()
        assert (dataset["name"], dataset["num_images"], dataset["class_names"]) == ("tones", 6, ["dark", "light"])
        assert client.get(f"/v1/datasets/{dataset['id']}").json() == dataset
        listed = [item["id"] for item in client.get("/v1/datasets").json()["items"]]
        assert listed[0] == "digits" and dataset["id"] in listed
