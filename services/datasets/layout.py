"""Where images sit in an archive or folder: safe relative paths, hidden files, and class sub-folders as labels."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.errors import InputError

# What operating systems leave behind in folders and archives; never part of a dataset.
HIDDEN_NAMES = {"__macosx", "thumbs.db", "desktop.ini"}


def entry_parts(name: str, field: str = "file") -> tuple[str, ...]:
    """The components of an archive entry's name; refuses names that would land outside the extraction folder."""
    normalised = name.replace("\\", "/")  # zips written on Windows may use backslashes
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        raise InputError(field, f"{name!r} is an absolute path; an archive may only hold relative paths")
    parts = tuple(part for part in normalised.split("/") if part not in ("", "."))
    if ".." in parts:
        raise InputError(field, f"{name!r} points outside the archive ('..'); an archive may only hold relative paths")
    return parts


def is_hidden(parts: Sequence[str]) -> bool:
    """Dot files and folders, macOS resource forks (__MACOSX/, ._x) and Windows' Thumbs.db are ignored."""
    return any(part.startswith(".") or part.lower() in HIDDEN_NAMES for part in parts)


@dataclass(frozen=True)
class Layout:
    """Class names (sorted) and one label per path, or None for both when images sit at the top level."""

    class_names: list[str] | None
    labels: list[int] | None
    parts: list[tuple[str, ...]]  # each path with any wrapper folders removed


def class_layout(paths: Sequence[tuple[str, ...]], field: str = "file") -> Layout:
    """Images in first-level sub-folders are labelled by folder name; one folder wrapping class folders is unwrapped.

    ``cats/1.png, dogs/2.png`` and ``pets/cats/1.png, pets/dogs/2.png`` have classes cats and dogs;
    ``1.png, 2.png`` has no labels; ``photos/1.png`` is one class, ``photos``.
    """
    parts = list(paths)
    while parts and len({p[0] for p in parts}) == 1 and any(len(p) >= 3 for p in parts):
        parts = [p[1:] for p in parts]
    top_level = [index for index, p in enumerate(parts) if len(p) == 1]
    if len(top_level) == len(parts):
        return Layout(None, None, parts)
    if top_level:
        loose = "/".join(paths[top_level[0]])
        filed = "/".join(paths[next(i for i, p in enumerate(parts) if len(p) > 1)])
        raise InputError(field, f"{loose} is not in a class folder but {filed} is; put every image in a class "
                                "sub-folder (its name is the label), or every image at the top level (no labels)")
    class_names = sorted({p[0] for p in parts})
    index = {name: label for label, name in enumerate(class_names)}
    return Layout(class_names, [index[p[0]] for p in parts], parts)
