"""Artifacts: metadata and bytes."""

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.deps import CallerDep, SessionDep, StoreDep
from api.errors import error_responses
from api.schemas.artifacts import ArtifactOut
from services.access import get_readable
from services.db.models import Artifact
from services.errors import NotFound

router = APIRouter(prefix="/v1/artifacts", tags=["artifacts"])


@router.get("/{artifact_id}", response_model=ArtifactOut, responses=error_responses(401, 404))
def get_artifact(artifact_id: str, session: SessionDep, caller: CallerDep) -> ArtifactOut:
    """An artifact's metadata."""
    return ArtifactOut.of(get_readable(session, Artifact, artifact_id, caller.owner))


@router.get(
    "/{artifact_id}/content",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "application/octet-stream": {}}, "description": "The bytes."},
               **error_responses(401, 404)},
)
def get_artifact_content(artifact_id: str, session: SessionDep, caller: CallerDep, store: StoreDep) -> FileResponse:
    """An artifact's bytes."""
    artifact = get_readable(session, Artifact, artifact_id, caller.owner)
    path = store.resolve(artifact.path)
    if path.is_dir():  # a checkpoint or model folder: served as a zip
        path = store.archive(artifact.path, top=path.name)
    if not path.is_file():
        raise NotFound("artifact file", artifact_id)
    return FileResponse(path, media_type=artifact.media_type, filename=path.name)
