"""Unit fixtures: a migrated SQLite database per test, settings pointing at a temporary folder."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from services import db
from services.db.migrate import upgrade
from services.settings import get_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Fresh settings, engine and migrated database under a temporary folder."""
    monkeypatch.setenv("DJ_DATA_DIR", str(tmp_path / "var"))
    for cached in (get_settings, db.get_engine, db.get_session_factory):
        cached.cache_clear()
    upgrade()
    yield tmp_path / "var"
    db.get_engine().dispose()
    for cached in (get_settings, db.get_engine, db.get_session_factory):
        cached.cache_clear()
