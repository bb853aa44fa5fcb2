"""Jobs: read, list, cancel."""

from typing import Annotated, Literal

from collections.abc import Iterator

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import CallerDep, SessionDep
from api.errors import error_responses
from api.schemas.jobs import CancelOut, JobList, JobOut
from services.access import get_readable
from services.db.models import Job
from services.jobs.events import watch_job
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


def _server_sent_events(job_id: str, owner: str) -> Iterator[str]:
    for change in watch_job(job_id, owner):
        if change is None:
            yield ": keep-alive\n\n"
            continue
        job = JobOut.of(*change)
        event = "progress" if job.status == "running" and job.progress.step else job.status
        yield f"event: {event}\ndata: {job.model_dump_json()}\n\n"


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "Server-sent events; each `data` is the job as GET /v1/jobs/{id} returns it. "
                     "Events: the job's status (queued, running, succeeded, failed, canceled) or `progress`. "
                     "The current state comes first; the stream ends after a final status."},
               **error_responses(401, 404)},
)
def job_events(job_id: str, session: SessionDep, caller: CallerDep) -> StreamingResponse:
    """Live status and progress of a job as server-sent events, ending with the finished job."""
    get_readable(session, Job, job_id, caller.owner)  # an unknown id is a 404, not an empty stream
    return StreamingResponse(_server_sent_events(job_id, caller.owner), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
