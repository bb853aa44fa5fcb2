"""Sample jobs."""

from fastapi import APIRouter, Response

from api.deps import CallerDep, IdempotencyKeyDep, PublisherDep, SessionDep, SettingsDep
from api.errors import error_responses
from api.schemas.jobs import JobOut
from api.schemas.samples import SampleRequest
from services.jobs.idempotency import submit_once
from services.jobs.queries import job_artifacts
from services.sampling.submit import submit_sample

router = APIRouter(prefix="/v1/samples", tags=["samples"])


@router.post("", status_code=202, response_model=JobOut, responses=error_responses(401, 422))
def create_sample(
    request: SampleRequest, session: SessionDep, caller: CallerDep, settings: SettingsDep, publish: PublisherDep,
    response: Response, idempotency_key: IdempotencyKeyDep = None,
) -> JobOut:
    """Queue a job that samples images from a model; poll the returned job until it finishes."""
    params = request.model_dump()
    job, replayed = submit_once(session, owner=caller.owner, key=idempotency_key, kind="sample", request=params,
                                submit=lambda: submit_sample(session, caller.owner, params, settings), publish=publish)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return JobOut.of(job, job_artifacts(session, [job.id])[job.id])
