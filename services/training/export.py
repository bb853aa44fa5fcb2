"""The finished model as a diffusers pipeline folder that plain ``diffusers`` loads."""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from diffusers import DDPMPipeline


def save_model(unet: Any, noise_scheduler: Any, folder: Path, card: str) -> Path:
    """Write ``model_index.json``, ``unet/``, ``scheduler/`` and ``README.md``, then move the folder into place."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        DDPMPipeline(unet=unet, scheduler=noise_scheduler).save_pretrained(temporary, safe_serialization=True)
        (temporary / "README.md").write_text(card, encoding="utf-8")
        if folder.exists():  # a rerun of a finished training replaces its model
            shutil.rmtree(folder)
        os.replace(temporary, folder)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return folder
