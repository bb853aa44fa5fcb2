"""Training and fine-tuning jobs."""

from fastapi import APIRouter, Response

from api.deps import CallerDep, IdempotencyKeyDep, PublisherDep, SessionDep, SettingsDep
from api.errors import error_responses
from api.schemas.jobs import JobOut
from api.schemas.trainings import TrainingRequest
from services.jobs.idempotency import submit_once
from services.jobs.queries import job_artifacts
from services.training.submit import submit_training

router = APIRouter(prefix="/v1/trainings", tags=["trainings"])


@router.post("", status_code=202, response_model=JobOut, responses=error_responses(401, 422))
def create_training(
    request: TrainingRequest, session: SessionDep, caller: CallerDep, settings: SettingsDep, publish: PublisherDep,
    response: Response, idempotency_key: IdempotencyKeyDep = None,
) -> JobOut:
    """Queue a training job (from scratch, or fine-tuning `base_model`); it registers a model when it succeeds."""
    params = request.model_dump()
    job, replayed = submit_once(session, owner=caller.owner, key=idempotency_key, kind="train", request=params,
                                submit=lambda: submit_training(session, caller.owner, params, settings),
                                publish=publish)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return JobOut.of(job, job_artifacts(session, [job.id])[job.id])
