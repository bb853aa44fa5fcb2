"""The scheduler catalogue."""

from dataclasses import asdict

from fastapi import APIRouter

from api.schemas.schedulers import SchedulerList, SchedulerOut
from services.sampling.catalog import SCHEDULERS

router = APIRouter(prefix="/v1/schedulers", tags=["schedulers"])


@router.get("", response_model=SchedulerList)
def get_schedulers() -> SchedulerList:
    """The schedulers a sample job may name."""
    return SchedulerList(items=[SchedulerOut(**asdict(spec)) for spec in SCHEDULERS.values()])
