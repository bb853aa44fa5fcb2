"""Shapes shared by every resource."""

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str = Field(description="The request field at fault, dotted for nested fields.", examples=["num_images"])
    message: str = Field(description="What is wrong with it.", examples=["at most 16 images per job"])


class ErrorDetail(BaseModel):
    type: str = Field(description="A stable machine-readable error type.", examples=["invalid_input"])
    message: str = Field(description="What went wrong, for a person.", examples=["num_images: at most 16 images per job"])
    fields: list[FieldError] = Field(default_factory=list, description="Per-field problems of a rejected request.")


class ErrorBody(BaseModel):
    """Every error response of the API has this shape."""

    error: ErrorDetail
