"""Datasets: the built-in ones, archives uploaded as multipart, server folders and hub names registered as JSON."""

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile, params
from fastapi.routing import APIRoute
from starlette.types import Message

from api.deps import CallerDep, SessionDep, SettingsDep, StoreDep
from api.errors import error_responses
from api.schemas.datasets import DatasetList, DatasetOut, DatasetSourceRegister
from services.datasets.catalog import get_dataset, list_datasets
from services.datasets.ingest import ingest_upload
from services.datasets.limits import DatasetLimits
from services.datasets.sources import check_folder_allowed, register_hub, register_imagefolder
from services.errors import InputError
from services.settings import get_settings

FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries, part headers and the name field around the file


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"file: the upload is larger than {limit} bytes (DJ_MAX_UPLOAD_BYTES); "
                              "split it into smaller archives or ask for a higher limit")


class UploadLimitRoute(APIRoute):
    """Counts the body as it arrives, so an oversized upload is refused before it is received, not after."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_form = self.body_field is not None and isinstance(self.body_field.field_info, params.Form)

        async def limited_handler(request: Request) -> Response:
            limit = get_settings().max_upload_bytes
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD_BYTES:
                raise _too_large(limit)
            if takes_form and request.headers.get("content-type", "").startswith("application/json"):
                raise InputError("file", "send the archive as multipart/form-data in the field `file`; register a "
                                         "server folder or a hub dataset by POSTing JSON to /v1/datasets/sources")
            received = 0

            async def counted_receive() -> Message:
                nonlocal received
                message = await request.receive()
                received += len(message.get("body", b""))
                if received > limit + FORM_OVERHEAD_BYTES:
                    raise _too_large(limit)
                return message

            return await handler(Request(request.scope, counted_receive))

        return limited_handler


router = APIRouter(prefix="/v1/datasets", tags=["datasets"], route_class=UploadLimitRoute)


@router.get("", response_model=DatasetList, responses=error_responses(401))
def get_datasets(session: SessionDep, caller: CallerDep) -> DatasetList:
    """The built-in datasets (e.g. `digits`), then yours, newest first."""
    return DatasetList(items=[DatasetOut.of(dataset) for dataset in list_datasets(session, caller.owner)])


@router.post("", status_code=201, response_model=DatasetOut, responses=error_responses(401, 413, 422))
def upload_dataset(
    file: Annotated[UploadFile, File(description="A .zip, .tar, .tar.gz or .tgz of PNG, JPEG, WebP, BMP or GIF "
                                                 "images. Images in first-level sub-folders are labelled by folder "
                                                 "name (one wrapping folder is ignored); images at the top level "
                                                 "have no labels. Hidden files (.DS_Store, __MACOSX/) are ignored.")],
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    store: StoreDep,
    name: Annotated[str | None, Form(max_length=255, description="A name to show; defaults to the file name.")] = None,
) -> DatasetOut:
    """Upload an archive of images: every image is checked and stored, or the upload is refused whole."""
    dataset = ingest_upload(session, store, DatasetLimits.of(settings), owner=caller.owner, stream=file.file,
                            filename=file.filename, name=name)
    return DatasetOut.of(dataset)


@router.post("/sources", status_code=201, response_model=DatasetOut, responses=error_responses(401, 422))
def register_dataset_source(
    request: DatasetSourceRegister, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> DatasetOut:
    """Register a server image folder (checked now, read in place) or a hub dataset (loaded by the worker)."""
    if request.imagefolder is not None:
        folder = Path(request.imagefolder)
        check_folder_allowed(folder, settings.import_roots, settings.environment == "production")
        dataset = register_imagefolder(session, DatasetLimits.of(settings), owner=caller.owner, folder=folder,
                                       name=request.name)
    else:
        dataset = register_hub(session, owner=caller.owner, hub=request.hub, split=request.split or "train",
                               image_column=request.image_column or "image", label_column=request.label_column,
                               name=request.name)
    session.commit()
    return DatasetOut.of(dataset)


@router.get("/{dataset_id}", response_model=DatasetOut, responses=error_responses(401, 404))
def get_dataset_by_id(dataset_id: str, session: SessionDep, caller: CallerDep) -> DatasetOut:
    """One dataset: a built-in one or yours."""
    return DatasetOut.of(get_dataset(session, dataset_id, caller.owner))
