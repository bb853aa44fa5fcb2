"""Datasets that stay where they are: an image folder on the server (checked now) or a hub name (loaded by workers)."""

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from services.datasets.images import ImageStats, read_image
from services.datasets.layout import Layout, class_layout, is_hidden
from services.datasets.limits import DatasetLimits
from services.db.models import Dataset
from services.errors import InputError
from services.registry import check_import_allowed


@dataclass(frozen=True)
class FolderImages:
    """The files of a folder, sorted, and their paths inside it (whose class sub-folders give labels)."""

    files: list[Path]
    parts: list[tuple[str, ...]]

    def layout(self, field: str = "imagefolder") -> Layout:
        return class_layout(self.parts, field)


def scan_folder(folder: Path, limits: DatasetLimits, field: str = "imagefolder") -> FolderImages:
    """The files of ``folder`` (hidden ones ignored), to be labelled by the same rule as uploaded archives."""
    if not folder.is_dir():
        raise InputError(field, f"{folder} is not a directory the server can read")
    root = folder.resolve()
    files: list[tuple[tuple[str, ...], Path]] = []
    for directory, subdirs, names in os.walk(root):  # symlinked folders are not followed
        subdirs[:] = [name for name in subdirs if not is_hidden((name,))]  # .git/ may hold thousands of files
        for name in names:
            path = Path(directory) / name
            parts = path.relative_to(root).parts
            if is_hidden(parts):
                continue
            if not path.resolve().is_relative_to(root):
                raise InputError(field, f"{path} links outside {folder}")
            files.append((parts, path))
            if len(files) > limits.max_dataset_images:
                raise InputError(field, f"{folder} has more than {limits.max_dataset_images} files "
                                        "(DJ_MAX_DATASET_IMAGES)")
    if not files:
        raise InputError(field, f"{folder} contains no images; put PNG, JPEG, WebP, BMP or GIF files in it, "
                                "in class sub-folders for labels")
    files.sort()
    return FolderImages([path for _, path in files], [parts for parts, _ in files])


def check_folder_allowed(folder: Path, roots: list[Path], production: bool) -> None:
    """Dataset folders obey the same confinement as model folders (DJ_MODEL_IMPORT_DIRS)."""
    if not folder.is_absolute():
        raise InputError("imagefolder", f"{folder} is not an absolute path")
    try:
        check_import_allowed(folder, roots, production)
    except InputError as error:
        reason = error.message.removeprefix(f"{error.field}: ")
        raise InputError("imagefolder", f"{reason} (DJ_MODEL_IMPORT_DIRS governs dataset folders too)") from None


def register_imagefolder(session: Session, limits: DatasetLimits, *, owner: str, folder: Path,
                         name: str | None) -> Dataset:
    """Check every picture of a server folder and record it; the files stay where they are, workers read them."""
    scan = scan_folder(folder, limits)
    stats = ImageStats()
    for path in scan.files:
        size = path.stat().st_size
        if size > limits.max_image_file_bytes:
            raise InputError("imagefolder", f"{path} is {size} bytes, more than any image within "
                                            "DJ_MAX_IMAGE_PIXELS needs")
        image = read_image(path.read_bytes(), str(path), limits.max_image_pixels, field="imagefolder", decode=False)
        stats.add(image, image.mode)
    layout = scan.layout()  # after the image checks, so a stray notes.txt is named as such
    dataset = Dataset(owner=owner, name=name or folder.name, source_type="imagefolder", source=str(folder),
                      path=None, num_images=len(scan.files), class_names=layout.class_names,
                      meta=stats.as_meta())
    session.add(dataset)
    session.flush()
    return dataset


def register_hub(session: Session, *, owner: str, hub: str, split: str, image_column: str,
                 label_column: str | None, name: str | None) -> Dataset:
    """Record a Hugging Face dataset name; it is fetched (and checked) by the worker that trains on it."""
    dataset = Dataset(owner=owner, name=name or hub, source_type="hub", source=hub, path=None, num_images=None,
                      class_names=None,
                      meta={"split": split, "image_column": image_column, "label_column": label_column})
    session.add(dataset)
    session.flush()
    return dataset
