"""Standard Webhooks signatures (https://www.standardwebhooks.com/): HMAC-SHA256 over ``{id}.{timestamp}.{body}``.

Each owner has a key of their own, derived from the server's secret, so one tenant's key cannot sign (or
verify) another tenant's deliveries, and nothing has to be stored.
"""

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"


def owner_key(server_secret: str, owner: str) -> bytes:
    """The 32-byte signing key of ``owner``."""
    return hmac.new(server_secret.encode(), f"webhook-signing:{owner}".encode(), hashlib.sha256).digest()


def encode_secret(key: bytes) -> str:
    """The key as clients are given it: ``whsec_`` and base64."""
    return SECRET_PREFIX + base64.b64encode(key).decode()


def decode_secret(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(key: bytes, message_id: str, timestamp: int, body: str | bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    payload = body.encode() if isinstance(body, str) else body
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(key: bytes, message_id: str, timestamp: int, body: str | bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, message_id, timestamp, body)}


def verify(key: bytes, headers: dict[str, str], body: str | bytes) -> bool:
    """Whether one of the ``v1`` signatures in ``headers`` matches (a receiver's check, also used by tests)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        expected = sign(key, lowered["webhook-id"], int(lowered["webhook-timestamp"]), body)
    except (KeyError, ValueError):
        return False
    return any(hmac.compare_digest(expected, candidate) for candidate in lowered.get("webhook-signature", "").split())
