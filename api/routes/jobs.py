"""Jobs: read, list, cancel."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import CallerDep, SessionDep
from api.errors import error_responses
from api.schemas.jobs import CancelOut, JobList, JobOut
from services.access import get_readable
from services.db.models import Job
from services.jobs.lifecycle import cancel
from services.jobs.queries import job_artifacts, list_jobs

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def _out(session: SessionDep, job: Job) -> JobOut:
    return JobOut.of(job, job_artifacts(session, [job.id])[job.id])


@router.get("", response_model=JobList, responses=error_responses(401, 422))
def get_jobs(
    session: SessionDep,
    caller: CallerDep,
    status: Annotated[Literal["queued", "running", "succeeded", "failed", "canceled"] | None,
                      Query(description="Only jobs in this status.")] = None,
    kind: Annotated[Literal["sample", "train"] | None, Query(description="Only jobs of this kind.")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Jobs per page.")] = 50,
) -> JobList:
    """Your jobs, newest first."""
    jobs, next_cursor = list_jobs(session, caller.owner, status=status, kind=kind, cursor=cursor, limit=limit)
    artifacts = job_artifacts(session, [job.id for job in jobs])
    return JobList(items=[JobOut.of(job, artifacts[job.id]) for job in jobs], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobOut, responses=error_responses(401, 404))
def get_job(job_id: str, session: SessionDep, caller: CallerDep) -> JobOut:
    """One job: status, progress, error, artifacts."""
    return _out(session, get_readable(session, Job, job_id, caller.owner))


@router.post("/{job_id}/cancel", response_model=CancelOut, responses=error_responses(401, 404))
def cancel_job(job_id: str, session: SessionDep, caller: CallerDep) -> CancelOut:
    """Cancel a queued job, or ask a running one to stop at its next step. Safe to repeat."""
    job = get_readable(session, Job, job_id, caller.owner)
    result = cancel(session, job)
    session.commit()
    session.refresh(job)
    return CancelOut(result=result.value, job=_out(session, job))
