"""Which datasets an owner can see: the built-in ones, then their own (tenant-scoped like every read)."""

from sqlalchemy.orm import Session

from services.access import readable
from services.datasets.builtin import builtin_dataset, builtin_datasets
from services.db.models import Dataset
from services.errors import InputError, NotFound


def list_datasets(session: Session, owner: str) -> list[Dataset]:
    """The built-in datasets first, then the owner's, newest first."""
    own = session.scalars(readable(Dataset, owner).order_by(Dataset.created_at.desc(), Dataset.id))
    return [*builtin_datasets(), *own]


def get_dataset(session: Session, dataset_id: str, owner: str, field: str | None = None) -> Dataset:
    """A built-in dataset or one of the owner's; else NotFound, or an InputError on ``field`` when a request names it.

    Other owners' datasets do not exist for you.
    """
    dataset = builtin_dataset(dataset_id)
    if dataset is None:
        dataset = session.scalars(readable(Dataset, owner).where(Dataset.id == dataset_id)).one_or_none()
    if dataset is None:
        if field is not None:
            raise InputError(field, f"no dataset with id {dataset_id!r}; GET /v1/datasets lists the ones you can use")
        raise NotFound("dataset", dataset_id)
    return dataset
