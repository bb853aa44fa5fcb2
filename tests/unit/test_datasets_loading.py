"""Loading datasets into tensors as a worker does: digits, stored uploads, image folders and hub names."""

import io
import sys
import tarfile
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from services.artifacts import ArtifactStore
from services.datasets.builtin import builtin_dataset
from services.datasets.ingest import ingest_upload
from services.datasets.limits import DatasetLimits
from services.datasets.loading import DatasetInvalid, DatasetSpec, DatasetUnavailable, load_dataset_images, load_images
from services.db import session_scope
from services.jobs.runner import JobError, error_type_of
from services.settings import get_settings


@pytest.fixture
def store(data_dir: Path) -> ArtifactStore:
    return ArtifactStore(get_settings().artifact_root)


def picture(size: tuple[int, int], value: int, mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, value if mode == "L" else (value, value // 2, 255 - value))


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def ingest(store: ArtifactStore, archive: bytes, filename: str):
    with session_scope() as session:
        return ingest_upload(session, store, DatasetLimits(), owner="public", stream=io.BytesIO(archive),
                             filename=filename, name=None)


def test_digits_load_as_16_pixel_grayscale_in_minus_one_to_one(store: ArtifactStore) -> None:
    images, labels, class_names = load_images(builtin_dataset("digits"), store, image_size=16, channels=1)
    assert images.shape == (1797, 1, 16, 16) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1 and images.min() == -1 and images.max() > 0.9
    assert labels.dtype == torch.long and sorted(labels.unique().tolist()) == list(range(10))
    assert class_names == [str(d) for d in range(10)]
    assert images.std(dim=0).mean() > 0.1  # real, different pictures, not one repeated


def test_a_subset_of_digits_keeps_every_class_and_rgb_repeats_the_gray(store: ArtifactStore) -> None:
    images, labels, _ = load_images(builtin_dataset("digits"), store, image_size=8, channels=3, max_images=100)
    assert images.shape == (100, 3, 8, 8) and len(labels.unique()) == 10
    assert torch.equal(images[:, 0], images[:, 2])


def test_uploaded_zip_and_tar_gz_load_with_their_class_labels(store: ArtifactStore) -> None:
    members = {f"set/{kind}/{i}.png": encoded(picture((12, 12), value, "L"))
               for kind, value in (("dark", 10), ("light", 240)) for i in range(3)}
    zip_buffer, tar_buffer = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(zip_buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with tarfile.open(fileobj=tar_buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    for archive_bytes, filename in ((zip_buffer.getvalue(), "set.zip"), (tar_buffer.getvalue(), "set.tar.gz")):
        dataset = ingest(store, archive_bytes, filename)
        assert dataset.class_names == ["dark", "light"] and dataset.num_images == 6 and dataset.channels == 1
        images, labels, class_names = load_images(dataset, store, image_size=16, channels=1)
        assert images.shape == (6, 1, 16, 16) and class_names == ["dark", "light"]
        assert labels.tolist() == [0, 0, 0, 1, 1, 1]
        assert (images[labels == 0] < -0.8).all() and (images[labels == 1] > 0.8).all()
        rgb, _, _ = load_images(dataset, store, image_size=4, channels=3, max_images=2)
        assert rgb.shape == (2, 3, 4, 4)


def test_image_folder_loads_centre_cropped_with_labels(tmp_path: Path, store: ArtifactStore) -> None:
    folder = tmp_path / "pictures"
    (folder / "wide").mkdir(parents=True)
    (folder / "tall").mkdir()
    wide = picture((40, 20), 0)
    wide.paste((255, 255, 255), (10, 0, 30, 20))  # a white centre between black margins
    (folder / "wide" / "a.png").write_bytes(encoded(wide))
    (folder / "tall" / "b.jpg").write_bytes(encoded(picture((10, 30), 200), "JPEG"))
    (folder / ".DS_Store").write_bytes(b"ignored")
    images, labels, class_names = load_images(DatasetSpec("imagefolder", str(folder)), store, 8, 3)
    assert images.shape == (2, 3, 8, 8) and class_names == ["tall", "wide"] and labels.tolist() == [0, 1]
    assert images[1].mean() > 0.8  # the crop kept the white centre; squashing would keep the black margins too


def test_image_folder_that_lost_its_images_is_a_dataset_error(tmp_path: Path, store: ArtifactStore) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetInvalid, match="no images") as raised:
        load_images(DatasetSpec("imagefolder", str(tmp_path / "empty")), store, 8, 1)
    assert error_type_of(raised.value) == "dataset_invalid"


def test_hub_dataset_without_the_datasets_package_is_unavailable(store: ArtifactStore,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # as on this machine: not installed
    spec = DatasetSpec("hub", "huggan/smithsonian_butterflies_subset", meta={"split": "train"})
    with pytest.raises(DatasetUnavailable, match="install the `datasets` package") as raised:
        load_images(spec, store, 32, 3)
    assert isinstance(raised.value, JobError) and error_type_of(raised.value) == "dataset_unavailable"
    assert "huggan/smithsonian_butterflies_subset" in str(raised.value)


def fake_datasets(load_dataset) -> types.ModuleType:  # noqa: ANN001
    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset
    return module


def test_unreachable_hub_is_unavailable(store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(name: str, split: str, cache_dir: str | None) -> None:
        raise ConnectionError(f"Couldn't reach '{name}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(offline))
    with pytest.raises(DatasetUnavailable, match="hub could not be reached to load someone/pictures"):
        load_images(DatasetSpec("hub", "someone/pictures"), store, 16, 3)


class FakeHubSplit:
    """The few parts of datasets.Dataset the loader uses: columns, features, select, indexing and iteration."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.column_names = list(rows[0])
        self.features = {"label": types.SimpleNamespace(names=["cat", "dog"]), "image": object()}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, column: str) -> list:
        return [row[column] for row in self.rows]

    def __iter__(self):
        return iter(self.rows)

    def select(self, indices: list[int]) -> "FakeHubSplit":
        return FakeHubSplit([self.rows[i] for i in indices])


def test_hub_dataset_loads_through_load_dataset(store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"image": picture((20, 20), 30 * i), "label": i % 2} for i in range(6)]
    calls = []

    def load_dataset(name: str, split: str, cache_dir: str | None) -> FakeHubSplit:
        calls.append((name, split))
        return FakeHubSplit(rows)

    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(load_dataset))
    spec = DatasetSpec("hub", "someone/pets", meta={"split": "test", "image_column": "image", "label_column": "label"})
    images, labels, class_names = load_images(spec, store, 8, 3, max_images=4)
    assert calls == [("someone/pets", "test")]
    assert images.shape == (4, 3, 8, 8) and class_names == ["cat", "dog"] and labels.dtype == torch.long
    with pytest.raises(DatasetInvalid, match="no image column 'img'"):
        load_images(DatasetSpec("hub", "someone/pets", meta={"image_column": "img"}), store, 8, 3)


def test_training_gets_digits_as_tensor_images(store: ArtifactStore) -> None:
    data, class_names = load_dataset_images("digits", "anyone", store, 16, 1, max_images=50)
    assert (len(data), data.size, data.channels, data.num_classes) == (50, 16, 1, 10)
    assert class_names == [str(d) for d in range(10)]
    assert np.isclose(float(data.images.max()), 1.0, atol=0.1)
