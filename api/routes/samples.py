"""Sample jobs."""

from fastapi import APIRouter

from api.deps import CallerDep, PublisherDep, SessionDep, SettingsDep
from api.errors import error_responses
from api.schemas.jobs import JobOut
from api.schemas.samples import SampleRequest
from services.jobs.dispatch import commit_and_enqueue
from services.sampling.submit import submit_sample

router = APIRouter(prefix="/v1/samples", tags=["samples"])


@router.post("", status_code=202, response_model=JobOut, responses=error_responses(401, 422))
def create_sample(
    request: SampleRequest, session: SessionDep, caller: CallerDep, settings: SettingsDep, publish: PublisherDep
) -> JobOut:
    """Queue a job that samples images from a model; poll the returned job until it finishes."""
    job = submit_sample(session, caller.owner, request.model_dump(), settings)
    return JobOut.of(commit_and_enqueue(session, job, publish), [])
