"""Dependencies as typed aliases, defined once; routes declare what they need."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException
from sqlalchemy.orm import Session

from worker.publish import publish_job
from services.artifacts import ArtifactStore
from services.db import get_session_factory
from services.jobs.dispatch import Publisher
from services.settings import Settings, get_settings

PUBLIC_OWNER = "public"


def get_session() -> Iterator[Session]:
    session = get_session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@dataclass(frozen=True)
class Caller:
    owner: str


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def authenticate(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(description="`Bearer <API key>` when the server has API keys.")] = None,
    x_api_key: Annotated[str | None, Header(description="The API key, as an alternative to Authorization.")] = None,
) -> Caller:
    """With no API keys configured everyone is the one owner `public`; otherwise the key names the owner."""
    owners = settings.api_key_owners
    if not owners:
        return Caller(PUBLIC_OWNER)
    key = x_api_key or (authorization.removeprefix("Bearer ").strip() if authorization else None)
    owner = owners.get(key or "")
    if owner is None:
        raise HTTPException(401, "a valid API key is required (Authorization: Bearer <key>)",
                            headers={"WWW-Authenticate": "Bearer"})
    return Caller(owner)


def get_store(settings: SettingsDep) -> ArtifactStore:
    return ArtifactStore(settings.artifact_root)


def get_publisher() -> Publisher:
    return publish_job


CallerDep = Annotated[Caller, Depends(authenticate)]
IdempotencyKeyDep = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="Any unique string (e.g. a UUID). Repeating a request with the same key returns the job the first "
    "one created instead of a new job; the same key with a different request is a 422.",
)]
StoreDep = Annotated[ArtifactStore, Depends(get_store)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
