"""Built-in datasets: known to every owner without a row. Their facts are written here; pixels load on demand."""

import numpy as np

from services.db.models import Dataset

DIGITS_ID = "digits"
DIGITS_CLASS_NAMES = [str(digit) for digit in range(10)]


def builtin_datasets() -> list[Dataset]:
    """The built-in datasets as rows that are never stored (so the API and the loader treat them like any other)."""
    digits = Dataset(
        id=DIGITS_ID, owner="", name="digits", source_type="builtin", source="digits",
        path=None, num_images=1797, class_names=list(DIGITS_CLASS_NAMES), created_at=None,
        meta={"loader": "sklearn.datasets.load_digits", "image_size": [8, 8], "modes": {"L": 1797},
              "description": "1,797 real 8×8 grayscale handwritten digits (UCI), labels 0–9; "
                             "the offline stand-in for MNIST."},
    )
    return [digits]


def builtin_dataset(dataset_id: str) -> Dataset | None:
    return next((dataset for dataset in builtin_datasets() if dataset.id == dataset_id), None)


def digits_pixels() -> tuple[np.ndarray, np.ndarray]:
    """The digits as uint8 N×8×8 (scikit-learn's 0..16 scaled to 0..255) and their int labels."""
    from sklearn.datasets import load_digits  # imported here: only loading the pixels needs scikit-learn

    digits = load_digits()
    pixels = np.rint(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return pixels, digits.target.astype(np.int64)
