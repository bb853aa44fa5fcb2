"""Options every job takes, resolved at submission: its time limit and its webhook."""

from typing import Any

from services.errors import InputError
from services.settings import Settings
from services.webhooks.targets import RefusedTarget, check_target


def resolve_job_options(params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """``params`` with the time limit filled in from the server's default and checked against its bound, and the
    webhook's URL checked (an http(s) URL with a host; no internal address where the server forbids them)."""
    limit = params.get("time_limit_seconds") or settings.job_time_limit_seconds
    if limit > settings.max_job_time_limit_seconds:
        raise InputError("time_limit_seconds", f"at most {settings.max_job_time_limit_seconds:g} seconds on this server")
    params = {**params, "time_limit_seconds": float(limit)}
    if webhook := params.get("webhook"):
        try:
            check_target(webhook["url"], settings.webhook_allow_private_networks)
        except RefusedTarget as error:
            raise InputError("webhook.url", str(error)) from None
        params["webhook"] = {**webhook, "events": list(dict.fromkeys(webhook["events"]))}
    return params
