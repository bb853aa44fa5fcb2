"""Datasets through the app in-process: the built-in digits, archive uploads and their refusals, server sources."""

import asyncio
import io
import json
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.app import app
from services.settings import get_settings


def png(size: tuple[int, int] = (8, 8), mode: str = "L", value: int = 128, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, value if mode in ("L", "P") else (value, 0, 255 - value)).save(buffer, format=fmt)
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(entries: dict[str, bytes], mode: str = "w:gz", links: dict[str, tuple[bytes, str]] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            archive.addfile(info)
    return buffer.getvalue()


def upload(client: TestClient, data: bytes, filename: str = "data.zip", **form: str):
    return client.post("/v1/datasets", files={"file": (filename, data, "application/octet-stream")}, data=form)


def left_in_store(data_dir: Path) -> list[str]:
    folder = data_dir / "artifacts" / "datasets"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def client(data_dir: Path) -> TestClient:
    return TestClient(app)


def test_digits_is_listed_for_every_caller_without_any_upload(client: TestClient) -> None:
    items = client.get("/v1/datasets").json()["items"]
    assert [item["id"] for item in items] == ["digits"]
    digits = client.get("/v1/datasets/digits").json()
    assert digits == items[0]
    assert (digits["source_type"], digits["num_images"], digits["num_classes"]) == ("builtin", 1797, 10)
    assert digits["class_names"] == [str(d) for d in range(10)] and digits["channels"] == 1


def test_zip_with_a_wrapper_and_class_folders_is_ingested(client: TestClient, data_dir: Path) -> None:
    entries = {f"pets/{kind}/{i}.png": png(value=i * 20) for kind in ("dogs", "cats") for i in range(3)}
    entries |= {"pets/cats/x.jpg": png((12, 10), "RGB", fmt="JPEG"), "__MACOSX/pets/cats/._0.png": b"junk",
                "pets/.DS_Store": b"junk", "pets/dogs/Thumbs.db": b"junk"}
    response = upload(client, zip_of(entries), "my pets.zip")
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert (dataset["name"], dataset["source"], dataset["source_type"]) == ("my pets", "my pets.zip", "upload")
    assert dataset["class_names"] == ["cats", "dogs"] and dataset["num_images"] == 7
    assert dataset["meta"]["ignored_files"] == 3 and dataset["meta"]["formats"] == {"PNG": 6, "JPEG": 1}
    assert dataset["channels"] == 3
    folder = data_dir / "artifacts" / "datasets" / dataset["id"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["labels"] == [0, 0, 0, 0, 1, 1, 1] and manifest["class_names"] == ["cats", "dogs"]
    assert manifest["files"][0] == "images/cats/0.png" and manifest["files"][-1] == "images/dogs/6.png"
    assert all((folder / file).is_file() for file in manifest["files"])
    assert left_in_store(data_dir) == [dataset["id"]]  # no staging folder, no raw upload
    assert client.get(f"/v1/datasets/{dataset['id']}").json() == dataset
    assert [item["id"] for item in client.get("/v1/datasets").json()["items"]] == ["digits", dataset["id"]]


def test_tar_gz_of_several_formats_is_ingested(client: TestClient) -> None:
    entries = {"a/1.gif": png(mode="P", fmt="GIF"), "a/2.bmp": png(fmt="BMP"), "b/3.webp": png(fmt="WEBP"),
               "b/4.png": png((16, 9))}
    response = upload(client, tar_of(entries), "shapes.tar.gz", name="shapes")
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["name"] == "shapes" and dataset["class_names"] == ["a", "b"] and dataset["num_images"] == 4
    assert dataset["meta"]["archive"] == "tar"
    assert dataset["meta"]["formats"] == {"GIF": 1, "BMP": 1, "WEBP": 1, "PNG": 1}


def test_images_at_the_top_level_have_no_labels(client: TestClient) -> None:
    dataset = upload(client, tar_of({"1.png": png(), "2.png": png()}, mode="w"), "plain.tar").json()
    assert dataset["class_names"] is None and dataset["num_classes"] is None and dataset["num_images"] == 2
    one_folder = upload(client, zip_of({"only/1.png": png(), "only/2.png": png()})).json()
    assert one_folder["class_names"] == ["only"]  # a folder of images is one class, not a wrapper


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


# A few hundred bytes claiming 60000×60000 pixels: what a decompression bomb looks like before it is decoded.
BOMB = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", (60000).to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00")
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + png_chunk(b"IEND", b""))


@pytest.mark.parametrize(
    ("archive", "filename", "hint"),
    [
        (zip_of({"empty/": b"", ".DS_Store": b"x"}), "empty.zip", "contains no images"),
        (b"just some text, not an archive", "data.zip", "not a .zip"),
        (zip_of({"a/1.png": png()})[:-30], "cut.zip", "not a .zip"),
        (zip_of({"cats/1.png": png(), "cats/notes.txt": b"hello"}), "data.zip", "cats/notes.txt is not an image"),
        (zip_of({"cats/1.png": png(), "cats/2.png": b"text pretending"}), "data.zip", "cats/2.png is not an image"),
        (zip_of({"cats/1.png": png(), "../evil.png": png()}), "data.zip", "outside the archive"),
        (tar_of({"/etc/evil.png": png()}), "data.tgz", "absolute path"),
        (tar_of({"a/1.png": png()}, links={"a/2.png": (tarfile.SYMTYPE, "/etc/passwd")}), "data.tgz", "is a link"),
        (tar_of({"a/1.png": png()}, links={"a/2.png": (tarfile.LNKTYPE, "a/1.png")}), "data.tgz", "is a link"),
        (zip_of({"1.png": png(), "cats/2.png": png()}), "data.zip", "1.png is not in a class folder"),
        (zip_of({"a/1.png": png(), "a/2.png": BOMB}), "data.zip", "decompression bomb"),
        (zip_of({"a/1.png": png(), "a/2.png": png(fmt="TIFF")}), "data.zip", "TIFF image"),
        (zip_of({"a/1.png": png(), "a/2.png": png()[:-20]}), "data.zip", "damaged or truncated"),
    ],
    ids=["no-images", "not-an-archive", "truncated-zip", "text-file", "fake-png", "dot-dot", "absolute",
         "symlink", "hardlink", "mixed-layout", "bomb", "tiff", "truncated-png"],
)
def test_bad_archive_is_refused_naming_file_and_leaves_nothing(client: TestClient, data_dir: Path, archive: bytes,
                                                               filename: str, hint: str) -> None:
    response = upload(client, archive, filename)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == ["file"] and hint in error["message"], error
    assert left_in_store(data_dir) == []
    assert [item["id"] for item in client.get("/v1/datasets").json()["items"]] == ["digits"]


@pytest.mark.parametrize(("setting", "value", "hint"), [("MAX_IMAGE_PIXELS", "50", "8×8 pixels, over the limit"),
                                                        ("MAX_ARCHIVE_ENTRIES", "3", "more than 3 entries"),
                                                        ("MAX_DATASET_IMAGES", "3", "more than 3 files")])
def test_archive_over_a_limit_is_refused(client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                        setting: str, value: str, hint: str) -> None:
    monkeypatch.setenv(f"DJ_{setting}", value)
    get_settings.cache_clear()
    response = upload(client, zip_of({f"a/{i}.png": png() for i in range(4)}))
    assert response.status_code == 422 and hint in response.json()["error"]["message"], response.text
    assert left_in_store(data_dir) == []


@pytest.mark.parametrize("size", [200_000, 2_000 + 10_000])  # far over (refused while receiving), just over
def test_too_large_upload_is_413(client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                 size: int) -> None:
    monkeypatch.setenv("DJ_MAX_UPLOAD_BYTES", "2000")
    get_settings.cache_clear()
    response = upload(client, b"x" * size)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["type"] == "too_large" and "DJ_MAX_UPLOAD_BYTES" in error["message"]
    assert left_in_store(data_dir) == []


def test_failure_after_some_images_were_written_leaves_nothing(client: TestClient, data_dir: Path) -> None:
    entries = {f"a/{i}.png": png() for i in range(5)} | {"b/z.png": b"not an image"}
    assert upload(client, zip_of(entries)).status_code == 422
    assert left_in_store(data_dir) == []


def test_request_without_an_archive_names_file(client: TestClient) -> None:
    missing = client.post("/v1/datasets", data={"name": "x"})
    assert missing.status_code == 422 and missing.json()["error"]["fields"][0]["field"] == "file"
    as_json = client.post("/v1/datasets", json={"imagefolder": "/tmp"})
    assert as_json.status_code == 422 and "/v1/datasets/sources" in as_json.json()["error"]["message"]


def test_another_owners_dataset_does_not_exist_for_you(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJ_API_KEYS", "alice-key:alice,bob-key:bob")
    get_settings.cache_clear()
    alice, bob = {"X-API-Key": "alice-key"}, {"X-API-Key": "bob-key"}
    dataset = client.post("/v1/datasets", files={"file": ("a.zip", zip_of({"1.png": png()}))}, headers=alice).json()
    assert client.get(f"/v1/datasets/{dataset['id']}", headers=alice).status_code == 200
    assert client.get(f"/v1/datasets/{dataset['id']}", headers=bob).status_code == 404
    assert [item["id"] for item in client.get("/v1/datasets", headers=bob).json()["items"]] == ["digits"]
    assert client.get("/v1/datasets/digits", headers=bob).status_code == 200
    assert client.get("/v1/datasets").status_code == 401


def test_image_folder_is_checked_and_registered(client: TestClient, tmp_path: Path) -> None:
    folder = tmp_path / "shapes"
    for kind in ("circles", "squares"):
        (folder / kind).mkdir(parents=True)
        for i in range(2):
            (folder / kind / f"{i}.png").write_bytes(png())
    (folder / ".hidden").write_text("ignored")
    response = client.post("/v1/datasets/sources", json={"imagefolder": str(folder)})
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert (dataset["source_type"], dataset["name"], dataset["source"]) == ("imagefolder", "shapes", str(folder))
    assert dataset["class_names"] == ["circles", "squares"] and dataset["num_images"] == 4
    (folder / "squares" / "notes.txt").write_text("not an image")
    refused = client.post("/v1/datasets/sources", json={"imagefolder": str(folder)})
    assert refused.status_code == 422 and "notes.txt is not an image" in refused.json()["error"]["message"]
    assert refused.json()["error"]["fields"][0]["field"] == "imagefolder"


@pytest.mark.parametrize(("body", "hint"), [({"imagefolder": "/no/such/folder"}, "not a directory"),
                                            ({"imagefolder": "relative/path"}, "not an absolute path"),
                                            ({"imagefolder": "/tmp", "split": "train"}, "hub datasets only"),
                                            ({}, "exactly one"), ({"hub": "bad name!"}, "pattern")])
def test_bad_source_is_refused(client: TestClient, body: dict, hint: str) -> None:
    response = client.post("/v1/datasets/sources", json=body)
    assert response.status_code == 422 and hint in response.json()["error"]["message"], response.text


def test_image_folder_outside_the_import_dirs_is_refused(client: TestClient, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJ_MODEL_IMPORT_DIRS", str(tmp_path / "allowed"))
    get_settings.cache_clear()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "1.png").write_bytes(png())
    response = client.post("/v1/datasets/sources", json={"imagefolder": str(tmp_path / "elsewhere")})
    assert response.status_code == 422 and "outside" in response.json()["error"]["message"]


def test_hub_dataset_is_recorded_for_the_worker(client: TestClient) -> None:
    body = {"hub": "huggan/smithsonian_butterflies_subset", "image_column": "image"}
    response = client.post("/v1/datasets/sources", json=body)
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert (dataset["source_type"], dataset["num_images"], dataset["channels"]) == ("hub", None, None)
    assert dataset["meta"] == {"split": "train", "image_column": "image", "label_column": None}


def test_upload_is_refused_while_it_streams_in(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJ_MAX_UPLOAD_BYTES", "2000")
    get_settings.cache_clear()
    pulled, sent = 0, []

    async def receive() -> dict:  # a chunked upload of 1 MB arriving 1 kB at a time, with no Content-Length
        nonlocal pulled
        pulled += 1
        if pulled == 1:
            head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\n\r\n'
            return {"type": "http.request", "body": head, "more_body": True}
        return {"type": "http.request", "body": b"x" * 1024, "more_body": pulled < 1000}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/datasets", "raw_path": b"/v1/datasets", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"test"), (b"content-type", b"multipart/form-data; boundary=b")],
             "client": ("127.0.0.1", 1), "server": ("test", 80)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["type"] == "too_large"
    assert pulled < 100  # refused once past the limit, not after receiving the whole megabyte
    assert left_in_store(data_dir) == []
