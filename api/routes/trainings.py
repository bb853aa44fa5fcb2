"""Training and fine-tuning jobs."""

from fastapi import APIRouter

from api.deps import CallerDep, PublisherDep, SessionDep, SettingsDep
from api.errors import error_responses
from api.schemas.jobs import JobOut
from api.schemas.trainings import TrainingRequest
from services.jobs.dispatch import commit_and_enqueue
from services.training.submit import submit_training

router = APIRouter(prefix="/v1/trainings", tags=["trainings"])


@router.post("", status_code=202, response_model=JobOut, responses=error_responses(401, 422))
def create_training(
    request: TrainingRequest, session: SessionDep, caller: CallerDep, settings: SettingsDep, publish: PublisherDep
) -> JobOut:
    """Queue a training job (from scratch, or fine-tuning `base_model`); it registers a model when it succeeds."""
    job = submit_training(session, caller.owner, request.model_dump(), settings)
    return JobOut.of(commit_and_enqueue(session, job, publish), [])
