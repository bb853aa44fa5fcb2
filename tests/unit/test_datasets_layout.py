"""The rules for paths inside archives: what escapes, what is hidden, and how class sub-folders become labels."""

import pytest

from services.datasets.layout import class_layout, entry_parts, is_hidden
from services.errors import InputError


def parts(*paths: str) -> list[tuple[str, ...]]:
    return [tuple(path.split("/")) for path in paths]


@pytest.mark.parametrize("name", ["../x.png", "a/../../x.png", "/etc/x.png", "C:/x.png", "..\\x.png", "\\x.png"])
def test_upload_with_path_traversal_is_rejected(name: str) -> None:
    with pytest.raises(InputError) as raised:
        entry_parts(name)
    assert raised.value.field == "file"


def test_harmless_names_are_split_into_components() -> None:
    assert entry_parts("./a//b\\c.png") == ("a", "b", "c.png")
    assert entry_parts("a/") == ("a",)


@pytest.mark.parametrize(("path", "hidden"), [("__MACOSX/a/._1.png", True), ("a/.DS_Store", True),
                                              ("a/Thumbs.db", True), (".git/x.png", True), ("a/1.png", False)])
def test_hidden_files(path: str, hidden: bool) -> None:
    assert is_hidden(tuple(path.split("/"))) is hidden


def test_class_folders_give_sorted_labels() -> None:
    layout = class_layout(parts("dogs/1.png", "cats/2.png", "cats/sub/3.png"))
    assert layout.class_names == ["cats", "dogs"] and layout.labels == [1, 0, 0]


def test_one_wrapping_folder_is_unwrapped_however_deep() -> None:
    layout = class_layout(parts("export/pets/cats/1.png", "export/pets/dogs/2.png"))
    assert layout.class_names == ["cats", "dogs"] and layout.labels == [0, 1]
    assert layout.parts == parts("cats/1.png", "dogs/2.png")


def test_top_level_images_and_a_single_folder_of_images() -> None:
    assert class_layout(parts("1.png", "2.png")).labels is None
    single = class_layout(parts("photos/1.png", "photos/2.png"))
    assert single.class_names == ["photos"] and single.labels == [0, 0]


def test_loose_images_beside_class_folders_are_refused() -> None:
    with pytest.raises(InputError, match="wrap/1.png is not in a class folder but wrap/cats/2.png is"):
        class_layout(parts("wrap/1.png", "wrap/cats/2.png"))
