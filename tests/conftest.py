"""Fixtures shared by unit and integration tests."""

from pathlib import Path

import pytest

from tests.factories import save_tiny_pipeline


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-rgb-16")
