"""Uploaded archives become datasets: every image checked and stored as PNG under ``datasets/<id>``, or nothing.

The upload is streamed to a staging folder inside the artifact store; the normalised images and
``manifest.json`` are written there; the folder is renamed into place and only then is the row committed.
Any failure removes the staging folder, so a rejected upload leaves no files and no row.
"""

import json
import os
import shutil
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from services.artifacts import ArtifactStore
from services.datasets.archives import Archive, open_archive
from services.datasets.images import ImageStats, read_image, storable
from services.datasets.layout import class_layout
from services.datasets.limits import DatasetLimits, UploadTooLarge
from services.db.models import Dataset, new_id
from services.errors import InputError

CHUNK_BYTES = 1 << 20
MANIFEST = "manifest.json"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


def upload_name(filename: str | None) -> str:
    """The file name a client sent, without any folders its browser or OS put in front."""
    return PureWindowsPath(PurePosixPath(filename or "upload").name).name or "upload"


def receive_upload(stream: BinaryIO, target: Path, max_bytes: int) -> int:
    """Copy the upload to ``target`` in chunks, refusing it as soon as it passes ``max_bytes``."""
    total = 0
    with target.open("wb") as out:
        while chunk := stream.read(CHUNK_BYTES):
            total += len(chunk)
            if total > max_bytes:
                raise UploadTooLarge(f"file: the upload is larger than {max_bytes} bytes (DJ_MAX_UPLOAD_BYTES); "
                                     "split it into smaller archives or ask for a higher limit")
            out.write(chunk)
    return total


def write_images(archive: Archive, folder: Path, max_pixels: int) -> tuple[dict[str, Any], ImageStats]:
    """Check and store every image of ``archive`` as ``images/[<class>/]<index>.png``; returns the manifest."""
    if not archive.members:
        hidden = f" (only {archive.ignored} hidden files such as .DS_Store)" if archive.ignored else ""
        raise InputError("file", f"{archive.filename} contains no images{hidden}; put PNG, JPEG, WebP, BMP or GIF "
                                 "files in it, in class sub-folders for labels")
    ordered = sorted(archive.members, key=lambda member: member.parts)
    index_of = {id(member): index for index, member in enumerate(ordered)}
    unsorted = folder / "unsorted"
    unsorted.mkdir()
    stats = ImageStats()
    for member in archive.members:  # in stored order: a compressed tar is read through once
        image = read_image(archive.read(member), member.name, max_pixels)
        stored = storable(image)
        stats.add(image, stored.mode)
        stored.save(unsorted / f"{index_of[id(member)]}.png", format="PNG")
    # Labels only once every file is known to be an image, so a stray notes.txt is named as such.
    layout = class_layout([member.parts for member in ordered])
    if layout.labels is None:
        files = [f"images/{i}.png" for i in range(len(ordered))]
        os.replace(unsorted, folder / "images")
    else:
        files = [f"images/{layout.class_names[label]}/{i}.png" for i, label in enumerate(layout.labels)]
        for name in layout.class_names:
            (folder / "images" / name).mkdir(parents=True)
        for i, file in enumerate(files):
            os.replace(unsorted / f"{i}.png", folder / file)
        unsorted.rmdir()
    manifest = {"version": 1, "class_names": layout.class_names, "files": files, "labels": layout.labels,
                "sources": [member.name for member in ordered]}
    return manifest, stats


def dataset_name(filename: str) -> str:
    lowered = filename.lower()
    suffix = next((s for s in ARCHIVE_SUFFIXES if lowered.endswith(s)), "")
    return filename[: len(filename) - len(suffix)] or filename


def ingest_upload(session: Session, store: ArtifactStore, limits: DatasetLimits, *, owner: str, stream: BinaryIO,
                  filename: str | None, name: str | None) -> Dataset:
    """Turn an uploaded archive into a stored dataset and commit its row (the files and the row appear together)."""
    filename = upload_name(filename)
    dataset_id = new_id()
    relative = f"datasets/{dataset_id}"
    staging = store.resolve(f"datasets/.tmp-{dataset_id}")
    staging.mkdir(parents=True)
    try:
        upload = staging / "upload"
        size = receive_upload(stream, upload, limits.max_upload_bytes)
        if size == 0:
            raise InputError("file", f"{filename} is empty")
        with open_archive(upload, filename, limits) as archive:
            manifest, stats = write_images(archive, staging, limits.max_image_pixels)
            meta = {"archive": archive.kind, "upload_bytes": size, "ignored_files": archive.ignored,
                    **stats.as_meta()}
        upload.unlink()
        (staging / MANIFEST).write_text(json.dumps(manifest))
        os.replace(staging, store.resolve(relative))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    dataset = Dataset(id=dataset_id, owner=owner, name=name or dataset_name(filename), source_type="upload",
                      source=filename, path=relative, num_images=len(manifest["files"]),
                      class_names=manifest["class_names"], meta=meta)
    try:
        session.add(dataset)
        session.commit()
    except BaseException:
        session.rollback()
        store.remove(relative)
        raise
    return dataset


def read_manifest(store: ArtifactStore, relative: str) -> dict[str, Any]:
    """The manifest of a stored upload: its files (relative to its folder), labels and class names."""
    return json.loads((store.resolve(relative) / MANIFEST).read_text())
