"""Options every job takes, resolved at submission: its time limit (and, with it, its webhook)."""

from typing import Any

from services.errors import InputError
from services.settings import Settings


def resolve_job_options(params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """``params`` with the time limit filled in from the server's default and checked against its bound."""
    limit = params.get("time_limit_seconds") or settings.job_time_limit_seconds
    if limit > settings.max_job_time_limit_seconds:
        raise InputError("time_limit_seconds", f"at most {settings.max_job_time_limit_seconds:g} seconds on this server")
    return {**params, "time_limit_seconds": float(limit)}

