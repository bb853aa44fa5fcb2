"""The worker's model cache: a second job on the same model does not reload it; least recently used goes first."""

from pathlib import Path

import pytest
import torch

from services.sampling.cache import ModelCache, ModelLoadError
from tests.factories import save_tiny_pipeline


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("cache")
    return [save_tiny_pipeline(root / f"m{index}", seed=index) for index in range(3)]


def test_second_use_does_not_reload(folders: list[Path]) -> None:
    cache = ModelCache(capacity=2)
    first = cache.get("a", folders[0], torch.device("cpu"))
    assert cache.get("a", folders[0], torch.device("cpu")) is first
    assert cache.loads == 1
    assert first.scheduler_config["_class_name"] == "DDPMScheduler"
    assert not first.unet.training and not any(p.requires_grad for p in first.unet.parameters())


def test_least_recently_used_is_evicted(folders: list[Path]) -> None:
    cache = ModelCache(capacity=2)
    a = cache.get("a", folders[0], torch.device("cpu"))
    cache.get("b", folders[1], torch.device("cpu"))
    cache.get("a", folders[0], torch.device("cpu"))  # a is now the most recent
    cache.get("c", folders[2], torch.device("cpu"))  # evicts b
    assert cache.get("a", folders[0], torch.device("cpu")) is a
    cache.get("b", folders[1], torch.device("cpu"))
    assert cache.loads == 4


def test_missing_model_files_are_a_job_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="could not load"):
        ModelCache(1).get("x", tmp_path / "missing", torch.device("cpu"))
