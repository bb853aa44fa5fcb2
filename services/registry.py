"""The model registry: register a diffusers pipeline folder or a hub id, read what a model is from its config."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from services.artifacts import ArtifactStore
from services.db.models import Model, new_id
from services.errors import InputError, Unavailable

WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


@dataclass(frozen=True)
class ModelInfo:
    sample_size: int
    in_channels: int
    out_channels: int
    num_class_embeds: int | None
    scheduler_class: str | None


def model_info(unet_config: dict[str, Any], scheduler_config: dict[str, Any] | None, field: str) -> ModelInfo:
    """What the service needs to know of a model, from its UNet (and scheduler) configuration."""
    if unet_config.get("_class_name") not in (None, "UNet2DModel"):
        raise InputError(field, f"only UNet2DModel pipelines are supported, not {unet_config.get('_class_name')}")
    size = unet_config.get("sample_size")
    if isinstance(size, list | tuple):
        if len(size) != 2 or size[0] != size[1]:
            raise InputError(field, f"only square models are supported, sample_size is {size}")
        size = size[0]
    if not isinstance(size, int) or size <= 0:
        raise InputError(field, f"the UNet config has no usable sample_size ({size!r})")
    return ModelInfo(
        sample_size=size,
        in_channels=int(unet_config.get("in_channels", 3)),
        out_channels=int(unet_config.get("out_channels", 3)),
        num_class_embeds=unet_config.get("num_class_embeds"),
        scheduler_class=(scheduler_config or {}).get("_class_name"),
    )


def _read_json(path: Path, field: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(field, f"cannot read {path.name}: {error}") from error


def inspect_folder(folder: Path, field: str = "path") -> ModelInfo:
    """Check that ``folder`` is a diffusers pipeline folder with a UNet2DModel and its weights."""
    if not folder.is_dir():
        raise InputError(field, f"{folder} is not a directory the server can read")
    unet_dir = folder / "unet"
    if not (unet_dir / "config.json").is_file():
        raise InputError(field, f"{folder} has no unet/config.json; save the pipeline with save_pretrained()")
    if not any((unet_dir / name).is_file() for name in WEIGHT_FILES):
        raise InputError(field, f"{folder}/unet has no weights ({' or '.join(WEIGHT_FILES)})")
    scheduler_path = folder / "scheduler" / "scheduler_config.json"
    scheduler = _read_json(scheduler_path, field) if scheduler_path.is_file() else None
    return model_info(_read_json(unet_dir / "config.json", field), scheduler, field)


def check_import_allowed(folder: Path, allowed_roots: list[Path], production: bool) -> None:
    if not allowed_roots:
        if production:
            raise InputError("path", "registering server folders is disabled; set DJ_MODEL_IMPORT_DIRS to allow it")
        return
    resolved = folder.resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in allowed_roots):
        raise InputError("path", f"{folder} is outside the directories models may be imported from")


def new_model_row(*, owner: str, name: str, source_type: str, source: str, path: str | None, info: ModelInfo,
                  meta: dict[str, Any], model_id: str | None = None) -> Model:
    """A registry row (not yet added to a session); ``meta["class_names"]`` becomes its class names."""
    return Model(
        id=model_id or new_id(), owner=owner, name=name, source_type=source_type, source=source, path=path,
        sample_size=info.sample_size, in_channels=info.in_channels, out_channels=info.out_channels,
        num_class_embeds=info.num_class_embeds, class_names=meta.get("class_names"),
        scheduler_class=info.scheduler_class, meta=meta,
    )


def register_folder(session: Session, store: ArtifactStore, *, owner: str, folder: Path, name: str | None) -> Model:
    """Copy a pipeline folder into the store (later edits of the original change nothing) and record it."""
    info = inspect_folder(folder)
    model_id = new_id()
    relative = f"models/{model_id}"
    store.copy_tree(folder, relative)
    model = new_model_row(owner=owner, name=name or folder.name, source_type="folder", source=str(folder),
                          path=relative, info=info, meta={}, model_id=model_id)
    session.add(model)
    session.flush()
    return model


def register_hub(session: Session, *, owner: str, hub_id: str, name: str | None, cache_dir: Path) -> Model:
    """Record a hub model after reading its configs; workers fetch the weights on first use."""
    from huggingface_hub import hf_hub_download  # imported here: only hub registrations need it

    def fetch(filename: str) -> dict[str, Any]:
        path = hf_hub_download(hub_id, filename, cache_dir=cache_dir, etag_timeout=5)
        return json.loads(Path(path).read_text())

    try:
        unet_config = fetch("unet/config.json")
    except Exception as error:
        if type(error).__name__ in {"RepositoryNotFoundError", "EntryNotFoundError", "RevisionNotFoundError"}:
            raise InputError("hub_id", f"{hub_id} has no diffusers UNet (unet/config.json): {error}") from error
        raise Unavailable(f"hub_id: could not reach the Hugging Face hub for {hub_id}: {error}") from error
    try:
        scheduler_config = fetch("scheduler/scheduler_config.json")
    except Exception:
        scheduler_config = None
    info = model_info(unet_config, scheduler_config, "hub_id")
    model = new_model_row(owner=owner, name=name or hub_id, source_type="hub", source=hub_id, path=None, info=info,
                          meta={})
    session.add(model)
    session.flush()
    return model



def model_archive(store: ArtifactStore, model: Model) -> Path:
    """The model's folder as a zip (built once: models never change), ready to stream."""
    if model.path is None:
        raise InputError("model_id", f"{model.source} lives on the Hugging Face hub; download it from there")
    return store.archive(model.path, top=model.name.replace("/", "--"))


def delete_model(session: Session, store: ArtifactStore, model: Model) -> None:
    """Forget the model (committed first), then remove its files; jobs that made or used it keep their records."""
    session.delete(model)
    session.commit()
    if model.path is not None:
        store.remove(f"{model.path}.zip")
        store.remove(model.path)
