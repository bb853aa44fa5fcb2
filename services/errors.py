"""Errors the services raise for the edges to translate (the API into 4xx responses)."""


class ServiceError(Exception):
    status_code = 400
    error_type = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(ServiceError):
    """A request field that is well-formed but not acceptable (over a limit, unknown reference, incompatible)."""

    status_code = 422
    error_type = "invalid_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(ServiceError):
    status_code = 404
    error_type = "not_found"

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(f"no {resource} with id {resource_id!r}")


class Conflict(ServiceError):
    status_code = 409
    error_type = "conflict"


class Unavailable(ServiceError):
    """Something the request needs (the model hub, the broker) cannot be reached now."""

    status_code = 503
    error_type = "unavailable"
