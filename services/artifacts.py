"""The artifact store: files under one root, written to a temporary name and renamed into place."""

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".json": "application/json",
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".csv": "text/csv",
}


def media_type_for(path: str | Path) -> str:
    return MEDIA_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


class ArtifactStore:
    """Paths handed in and out are relative to the root, so the root can move between hosts."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def resolve(self, relative: str | Path) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"artifact path escapes the store: {relative}")
        return path

    def write_bytes(self, relative: str | Path, data: bytes) -> Path:
        """Write atomically: readers see the whole file or none of it."""
        target = self.resolve(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def copy_tree(self, source: Path, relative: str | Path) -> Path:
        """Copy a folder in under a temporary name, then rename it into place."""
        target = self.resolve(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
        try:
            shutil.copytree(source, staging, dirs_exist_ok=True)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def archive(self, relative: str | Path, top: str) -> Path:
        """A zip of a folder in the store (built once, next to it), its entries under ``top/``."""
        folder = self.resolve(relative)
        target = folder.with_name(folder.name + ".zip")
        if target.is_file():
            return target
        fd, tmp = tempfile.mkstemp(dir=folder.parent, prefix=".tmp-", suffix=".zip")
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as bundle:
                for file in sorted(folder.rglob("*")):
                    if file.is_file():
                        bundle.write(file, Path(top) / file.relative_to(folder))
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target

    def remove(self, relative: str | Path) -> None:
        path = self.resolve(relative)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
