"""In-memory training data: decoded once, shuffled per epoch, flipped on tensors, resumable mid-epoch."""

import numpy as np
import pytest
import torch
from PIL import Image

from services.training.data import TensorImages, prepare_image


def numbered(count: int, size: int = 4) -> TensorImages:
    """Image i is filled with the value i / count, so a batch tells which images it holds."""
    values = torch.arange(count, dtype=torch.float32) / count
    return TensorImages(values.view(-1, 1, 1, 1).expand(count, 1, size, size).clone(), torch.arange(count) % 3)


def indices(batch: torch.Tensor, count: int) -> list[int]:
    return [round(float(value) * count) for value in batch[:, 0, 0, 0]]


def test_prepare_image_resizes_the_shorter_side_crops_the_centre_and_scales_to_minus_one_one() -> None:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 5, 20))  # a blue band the centre crop must cut away
    array = prepare_image(image, 8, 3)
    assert array.shape == (3, 8, 8) and array.dtype == np.float32
    assert np.allclose(array[0], 1.0) and np.allclose(array[2], -1.0)
    assert prepare_image(Image.new("L", (8, 8), 0), 8, 1).min() == -1.0


def test_from_pil_decodes_every_image_once_with_labels() -> None:
    data = TensorImages.from_pil([Image.new("L", (8, 8), v) for v in (0, 255)], 4, 1, labels=[0, 1], num_classes=2)
    assert data.images.shape == (2, 1, 4, 4) and (data.size, data.channels, len(data)) == (4, 1, 2)
    assert data.images[0].max() == -1.0 and data.images[1].min() == 1.0
    assert data.labels.tolist() == [0, 1] and data.num_classes == 2


def test_every_epoch_visits_every_image_once_even_across_batch_boundaries() -> None:
    data = numbered(10)
    stream = data.batches(4, torch.Generator().manual_seed(0), random_flip=False)
    seen = [i for _ in range(5) for i in indices(next(stream)[0], 10)]
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != seen[10:]  # reshuffled each epoch
    assert stream.epoch == 2


def test_labels_travel_with_their_images() -> None:
    data = numbered(9)
    images, labels = next(data.batches(9, torch.Generator().manual_seed(1), random_flip=False))
    assert [i % 3 for i in indices(images, 9)] == labels.tolist()


def test_random_flip_mirrors_a_random_subset_of_the_batch() -> None:
    pattern = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4) / 16
    data = TensorImages(pattern.expand(64, 1, 4, 4).clone())
    batch, _ = next(data.batches(64, torch.Generator().manual_seed(0)))
    flipped = [bool(torch.equal(image, pattern[0].flip(-1))) for image in batch]
    unchanged = [bool(torch.equal(image, pattern[0])) for image in batch]
    assert all(f != u for f, u in zip(flipped, unchanged))
    assert 16 < sum(flipped) < 48


def test_a_restored_stream_draws_the_same_batches() -> None:
    data = numbered(10)
    stream = data.batches(3, torch.Generator().manual_seed(5))
    for _ in range(4):
        next(stream)
    saved = {key: value.clone() if isinstance(value, torch.Tensor) else value
             for key, value in stream.state_dict().items()}
    expected = [next(stream)[0] for _ in range(6)]
    resumed = data.batches(3, torch.Generator().manual_seed(999))
    resumed.load_state_dict(saved)
    assert all(torch.equal(a, next(resumed)[0]) for a in expected)


@pytest.mark.parametrize("images, labels, message", [
    (torch.zeros(2, 1, 4), None, "N×C×H×W"),
    (torch.zeros(2, 1, 4, 5), None, "square"),
    (torch.zeros(2, 1, 4, 4), torch.tensor([0, 1, 2]), "one long"),
    (torch.zeros(2, 1, 4, 4), torch.tensor([0.0, 1.0]), "one long"),
])
def test_malformed_data_is_refused(images: torch.Tensor, labels, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TensorImages(images, labels)


def test_labels_outside_the_classes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        TensorImages(torch.zeros(2, 1, 4, 4), torch.tensor([0, 2]), num_classes=2)


def test_batches_are_contiguous_nchw_whatever_layout_the_images_came_in() -> None:
    images = torch.rand(4, 8, 8, 3).permute(0, 3, 1, 2)  # HWC data viewed as NCHW: channels_last strides
    data = TensorImages(images).to("cpu")
    batch, _ = next(data.batches(4, torch.Generator().manual_seed(0)))
    assert batch.is_contiguous()
    assert TensorImages.from_pil([Image.new("RGB", (8, 8))], 8, 3).images.is_contiguous()
