"""Liveness and readiness."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.deps import SessionDep
from worker.publish import broker_reachable

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(description="ok when the database and the broker both answer.", examples=["ok"])
    database: str = Field(description="ok, or why it cannot be reached.")
    broker: str = Field(description="ok, or why it cannot be reached.")


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}})
def readyz(session: SessionDep) -> JSONResponse:
    """The database and the broker are reachable."""
    try:
        session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:
        database = f"{type(error).__name__}: {error}"
    broker_ok, broker = broker_reachable()
    ready = database == "ok" and broker_ok
    body = Readiness(status="ok" if ready else "unavailable", database=database, broker=broker)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
