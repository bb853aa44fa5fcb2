"""Reading uploaded zip and tar archives entry by entry, refusing links, escaping paths and oversized entries.

Nothing is extracted as-is: each file is read into memory (at most the size an image within the pixel limit
can have) and only the checked, normalised picture is written, so a hostile archive cannot place a file anywhere.
"""

import lzma
import stat
import tarfile
import zipfile
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.datasets.layout import entry_parts, is_hidden
from services.datasets.limits import DatasetLimits
from services.errors import InputError

ARCHIVE_KINDS = ".zip, .tar, .tar.gz or .tgz"
READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, OSError,
               NotImplementedError)


@dataclass(frozen=True)
class Member:
    """A regular, not hidden file of the archive."""

    name: str  # as the archive spells it
    parts: tuple[str, ...]
    size: int
    key: Any  # the ZipInfo or TarInfo


class Archive(ABC):
    """The files of an archive in the order they are stored (reading in that order never seeks back)."""

    kind: str

    def __init__(self, path: Path, filename: str, limits: DatasetLimits) -> None:
        self.filename, self.limits = filename, limits
        self.members: list[Member] = []
        self.ignored = 0
        try:
            self._open(path)
            self._list()
        except InputError:
            self.close()
            raise
        except READ_ERRORS as error:
            self.close()
            raise InputError("file", f"{filename} is a damaged {self.kind} archive ({error})") from None

    def _add(self, name: str, count: int, *, is_dir: bool, is_file: bool, is_link: bool, size: int, key: Any) -> None:
        if count > self.limits.max_archive_entries:
            raise InputError("file", f"{self.filename} has more than {self.limits.max_archive_entries} entries "
                                     "(DJ_MAX_ARCHIVE_ENTRIES); split it into smaller datasets")
        parts = entry_parts(name)
        if is_link:
            raise InputError("file", f"{name} is a link; an archive may hold only files and folders")
        if is_dir or not parts:
            return
        if is_hidden(parts):
            self.ignored += 1
            return
        if not is_file:
            raise InputError("file", f"{name} is a device or other special file; an archive may hold only files "
                                     "and folders")
        self._check_size(name, size)
        self.members.append(Member(name, parts, size, key))
        if len(self.members) > self.limits.max_dataset_images:
            raise InputError("file", f"{self.filename} has more than {self.limits.max_dataset_images} files "
                                     "(DJ_MAX_DATASET_IMAGES)")

    def _check_size(self, name: str, size: int) -> None:
        if size > self.limits.max_image_file_bytes:
            raise InputError("file", f"{name} is {size} bytes, more than any image within DJ_MAX_IMAGE_PIXELS "
                                     "needs; refused as a possible decompression bomb")

    def read(self, member: Member) -> bytes:
        """The member's bytes, checked against the size it may have (archives can lie about sizes)."""
        try:
            data = self._read(member, self.limits.max_image_file_bytes + 1)
        except READ_ERRORS as error:
            raise InputError("file", f"{member.name} cannot be read from {self.filename}: the archive is damaged "
                                     f"({error})") from None
        self._check_size(member.name, len(data))
        return data

    @abstractmethod
    def _open(self, path: Path) -> None: ...

    @abstractmethod
    def _list(self) -> None: ...

    @abstractmethod
    def _read(self, member: Member, limit: int) -> bytes: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class ZipArchive(Archive):
    kind = "zip"
    bundle: zipfile.ZipFile | None = None

    def _open(self, path: Path) -> None:
        self.bundle = zipfile.ZipFile(path)

    def _list(self) -> None:
        for count, info in enumerate(self.bundle.infolist(), start=1):
            is_link = stat.S_ISLNK(info.external_attr >> 16)
            self._add(info.filename, count, is_dir=info.is_dir(), is_file=True, is_link=is_link,
                      size=info.file_size, key=info)

    def _read(self, member: Member, limit: int) -> bytes:
        if member.key.flag_bits & 0x1:
            raise InputError("file", f"{member.name} is encrypted; upload an archive without a password")
        with self.bundle.open(member.key) as handle:
            return handle.read(limit)

    def close(self) -> None:
        if self.bundle is not None:
            self.bundle.close()


class TarArchive(Archive):
    kind = "tar"
    bundle: tarfile.TarFile | None = None

    def _open(self, path: Path) -> None:
        self.bundle = tarfile.open(path, "r:*")

    def _list(self) -> None:
        for count, info in enumerate(self.bundle, start=1):  # headers only: data is skipped, not kept
            self._add(info.name, count, is_dir=info.isdir(), is_file=info.isfile(),
                      is_link=info.issym() or info.islnk(), size=info.size, key=info)

    def _read(self, member: Member, limit: int) -> bytes:
        handle = self.bundle.extractfile(member.key)
        return handle.read(limit) if handle is not None else b""

    def close(self) -> None:
        if self.bundle is not None:
            self.bundle.close()


def open_archive(path: Path, filename: str, limits: DatasetLimits) -> Archive:
    """The upload as a zip or tar archive (recognised by content, not by name), its entries checked."""
    if zipfile.is_zipfile(path):
        return ZipArchive(path, filename, limits)
    if tarfile.is_tarfile(path):
        return TarArchive(path, filename, limits)
    damaged = " (or it is damaged or truncated)" if filename.lower().endswith((".zip", ".tar", ".gz", ".tgz")) else ""
    raise InputError("file", f"{filename} is not a {ARCHIVE_KINDS} archive{damaged}")
