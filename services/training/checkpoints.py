"""Checkpoint folders under ``workdir/checkpoints/step-NNNNNN/``: written whole or not at all, the latest few kept.

A checkpoint holds ``unet/`` (a plain diffusers UNet2DModel, safetensors) and ``training_state.pt``
(optimizer, LR schedule, EMA, random streams, data position, loss history).
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
from diffusers.utils import SAFETENSORS_WEIGHTS_NAME
from safetensors.torch import load_file

from services.training.state import TrainingState

KEEP = 2
STATE_FILE = "training_state.pt"
NAME = re.compile(r"step-(\d{6,})")


def checkpoints_dir(workdir: Path) -> Path:
    return Path(workdir) / "checkpoints"


def list_checkpoints(workdir: Path) -> list[Path]:
    """Complete checkpoints, oldest first; half-written temporary folders are not checkpoints."""
    root = checkpoints_dir(workdir)
    if not root.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in root.iterdir()
             if (match := NAME.fullmatch(path.name)) and (path / STATE_FILE).is_file()]
    return [path for _, path in sorted(found)]


def latest_checkpoint(workdir: Path) -> Path | None:
    """The checkpoint a resumed run starts from, or None when there is none."""
    found = list_checkpoints(workdir)
    return found[-1] if found else None


def checkpoint_step(path: Path) -> int:
    match = NAME.fullmatch(Path(path).name)
    if match is None:
        raise ValueError(f"{path} is not a checkpoint folder")
    return int(match.group(1))


def save_checkpoint(workdir: Path, state: TrainingState, keep: int = KEEP) -> Path:
    """Write the state at its current step, then move it into place in one rename and drop older ones."""
    root = checkpoints_dir(workdir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state.step:06d}"
    temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root))
    try:
        state.unet.save_pretrained(temporary / "unet", safe_serialization=True)
        torch.save(state.state_dict(), temporary / STATE_FILE)
        if final.exists():  # only when the same step is saved twice; its content is the same state
            shutil.rmtree(final)
        os.replace(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    prune(workdir, keep)
    return final


def prune(workdir: Path, keep: int = KEEP) -> None:
    """Remove all but the latest ``keep`` checkpoints, and temporary folders left by an interrupted save."""
    root = checkpoints_dir(workdir)
    for path in list_checkpoints(workdir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(".step-*"):
        shutil.rmtree(path, ignore_errors=True)


def load_checkpoint(path: Path, state: TrainingState) -> None:
    """Restore ``state`` (built for the same run) from a checkpoint folder."""
    path = Path(path)
    weights = load_file(path / "unet" / SAFETENSORS_WEIGHTS_NAME, device=str(state.unet.device))
    state.unet.load_state_dict(weights)
    # Loaded onto the CPU: generator states must be CPU tensors; the optimizer moves its own to the parameters.
    state.load_state_dict(torch.load(path / STATE_FILE, map_location="cpu", weights_only=True))
    if state.step != checkpoint_step(path):
        raise ValueError(f"{path} holds step {state.step}, not the step its name says")
