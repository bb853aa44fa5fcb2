"""The model registry."""

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from api.deps import CallerDep, SessionDep, SettingsDep, StoreDep
from api.errors import error_responses
from api.schemas.models import ModelList, ModelOut, ModelRegister
from services.access import get_readable, readable
from services.db.models import Model
from services.registry import check_import_allowed, delete_model, model_archive, register_folder, register_hub

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=ModelList, responses=error_responses(401))
def get_models(session: SessionDep, caller: CallerDep) -> ModelList:
    """Your models, newest first."""
    models = session.scalars(readable(Model, caller.owner).order_by(Model.created_at.desc()))
    return ModelList(items=[ModelOut.of(model) for model in models])


@router.post("", status_code=201, response_model=ModelOut, responses=error_responses(401, 422, 503))
def create_model(
    request: ModelRegister, session: SessionDep, caller: CallerDep, settings: SettingsDep, store: StoreDep
) -> ModelOut:
    """Register a diffusers pipeline folder (copied into the store) or a hub model (fetched by workers)."""
    if request.path is not None:
        folder = Path(request.path)
        check_import_allowed(folder, settings.import_roots, settings.environment == "production")
        model = register_folder(session, store, owner=caller.owner, folder=folder, name=request.name)
    else:
        model = register_hub(session, owner=caller.owner, hub_id=request.hub_id, name=request.name,
                             cache_dir=settings.hub_cache_dir)
    session.commit()
    return ModelOut.of(model)


@router.get("/{model_id}", response_model=ModelOut, responses=error_responses(401, 404))
def get_model(model_id: str, session: SessionDep, caller: CallerDep) -> ModelOut:
    """One model."""
    return ModelOut.of(get_readable(session, Model, model_id, caller.owner))


@router.get(
    "/{model_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The diffusers folder as a zip."},
               **error_responses(401, 404, 422)},
)
def download_model(model_id: str, session: SessionDep, caller: CallerDep, store: StoreDep) -> FileResponse:
    """The model as a zip of its diffusers folder; load it with DDPMPipeline.from_pretrained(folder)."""
    model = get_readable(session, Model, model_id, caller.owner)
    filename = f"{model.name.replace('/', '--')}.zip"
    return FileResponse(model_archive(store, model), media_type="application/zip", filename=filename)


@router.delete("/{model_id}", status_code=204, responses=error_responses(401, 404))
def remove_model(model_id: str, session: SessionDep, caller: CallerDep, store: StoreDep) -> Response:
    """Delete a model and its files. Jobs keep their records; new sample jobs can no longer name it."""
    delete_model(session, store, get_readable(session, Model, model_id, caller.owner))
    return Response(status_code=204)
