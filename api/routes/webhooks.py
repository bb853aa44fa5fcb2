"""Webhooks: the secret to verify deliveries with, and a job's deliveries for debugging a receiver."""

from fastapi import APIRouter

from api.deps import CallerDep, SessionDep, SettingsDep
from api.errors import error_responses
from api.schemas.webhooks import WebhookDeliveryList, WebhookDeliveryOut, WebhookSecretOut
from services.webhooks.queries import job_deliveries
from services.webhooks.signing import encode_secret, owner_key

router = APIRouter(tags=["webhooks"])


@router.get("/v1/webhooks/secret", response_model=WebhookSecretOut, responses=error_responses(401))
def get_webhook_secret(caller: CallerDep, settings: SettingsDep) -> WebhookSecretOut:
    """Your webhook signing secret; every delivery of your jobs is signed with it, and only yours are."""
    return WebhookSecretOut(secret=encode_secret(owner_key(settings.secret_key, caller.owner)))


@router.get("/v1/jobs/{job_id}/webhooks", response_model=WebhookDeliveryList, responses=error_responses(401, 404))
def get_job_webhooks(job_id: str, session: SessionDep, caller: CallerDep) -> WebhookDeliveryList:
    """The job's webhook deliveries: what was sent, how often, and what the receiver answered."""
    return WebhookDeliveryList(items=[WebhookDeliveryOut.of(d) for d in job_deliveries(session, job_id, caller.owner)])
