"""Schedulers a sample job may name."""

from pydantic import BaseModel, Field


class SchedulerOut(BaseModel):
    name: str = Field(description="The value for a sample job's `scheduler`.", examples=["ddim"])
    class_name: str = Field(description="The diffusers class.", examples=["DDIMScheduler"])
    description: str
    accepts_eta: bool = Field(description="Whether `eta` may be given.")
    stochastic: bool = Field(description="Draws fresh noise during sampling (still reproducible by seed).")
    stateless_step: bool = Field(description="Allows loss guidance (its step() keeps no state).")


class SchedulerList(BaseModel):
    items: list[SchedulerOut]
