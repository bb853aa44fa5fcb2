"""One error shape for every 4xx/5xx, and the handlers that produce it."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas.common import ErrorBody, ErrorDetail, FieldError
from services.errors import InputError, ServiceError

log = logging.getLogger(__name__)

ERROR_TYPES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               409: "conflict", 413: "too_large", 422: "invalid_input", 500: "internal_error", 503: "unavailable"}


def error_response(status: int, error_type: str, message: str, fields: list[FieldError] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(type=error_type, message=message, fields=fields or []))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _field_name(location: tuple) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    fields = [FieldError(field=_field_name(e["loc"]), message=e["msg"]) for e in error.errors()]
    message = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return error_response(422, "invalid_input", message, fields)


async def _service_error(_: Request, error: ServiceError) -> JSONResponse:
    fields = [FieldError(field=error.field, message=str(error).split(": ", 1)[-1])] if isinstance(error, InputError) else []
    return error_response(error.status_code, error.error_type, error.message, fields)


async def _http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
    return error_response(error.status_code, ERROR_TYPES.get(error.status_code, "error"), str(error.detail),
                          headers=getattr(error, "headers", None))


async def _database_unavailable(_: Request, error: OperationalError) -> JSONResponse:
    # The database is down, restarting or not up yet: nothing was done, and the same request can be sent again.
    log.warning("database unavailable: %s", error.orig)
    return error_response(503, "unavailable", "the database cannot be reached; try again shortly",
                          headers={"Retry-After": "5"})


async def _internal_error(_: Request, error: Exception) -> JSONResponse:
    # The error is raised on after this answer is sent, so the server logs it with its traceback.
    return error_response(500, "internal_error", "an internal error occurred; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _internal_error)


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI entries for the error statuses a route declares."""
    return {status: {"model": ErrorBody, "description": ERROR_TYPES.get(status, "error")} for status in statuses}
