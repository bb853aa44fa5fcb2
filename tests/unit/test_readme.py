"""The README documents every setting."""

from pathlib import Path

import pytest

from services.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name: str) -> None:
    assert f"`DJ_{name.upper()}`" in README
