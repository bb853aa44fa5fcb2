"""Tenant scoping: every read of an owned row goes through here, so another owner's row is simply not found."""

from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.db.models import Artifact, Dataset, Job, Model
from services.errors import NotFound

Owned = TypeVar("Owned", Job, Model, Artifact, Dataset)

RESOURCE_NAMES = {Job: "job", Model: "model", Artifact: "artifact", Dataset: "dataset"}


def readable(entity: type[Owned], owner: str) -> Select[tuple[Owned]]:
    """The rows of ``entity`` that ``owner`` may see."""
    return select(entity).where(entity.owner == owner)


def get_readable(session: Session, entity: type[Owned], row_id: str, owner: str) -> Owned:
    """One row ``owner`` may see, or NotFound (never "forbidden": other tenants' ids do not exist for you)."""
    row = session.scalars(readable(entity, owner).where(entity.id == row_id)).one_or_none()
    if row is None:
        raise NotFound(RESOURCE_NAMES[entity], row_id)
    return row
