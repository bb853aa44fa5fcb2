"""Standard Webhooks signatures and per-owner secrets."""

import base64
import hashlib
import hmac

import pytest

from services.settings import DEVELOPMENT_SECRET_KEY, Settings
from services.webhooks.signing import decode_secret, encode_secret, owner_key, sign, signed_headers, verify

# The example the Standard Webhooks reference libraries test their signing with.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_standard_webhooks_example() -> None:
    assert sign(decode_secret(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_signature_is_hmac_sha256_over_id_timestamp_and_body() -> None:
    key = b"k" * 32
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000.{}", hashlib.sha256).digest()).decode()
    assert signed_headers(key, "msg_1", 1700000000, b"{}") == {
        "webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": f"v1,{expected}"}


def test_verify_accepts_the_right_key_and_refuses_changes() -> None:
    key = decode_secret(SPEC_SECRET)
    headers = {"Webhook-Id": SPEC_ID, "Webhook-Timestamp": str(SPEC_TIMESTAMP),
               "Webhook-Signature": f"v1,bm90IGl0 {SPEC_SIGNATURE}"}  # several signatures: one must match
    assert verify(key, headers, SPEC_BODY)
    assert not verify(key, headers, SPEC_BODY.replace("2", "3"))
    assert not verify(key, {**headers, "Webhook-Timestamp": str(SPEC_TIMESTAMP + 1)}, SPEC_BODY)
    assert not verify(b"another key", headers, SPEC_BODY)
    assert not verify(key, {"webhook-id": SPEC_ID}, SPEC_BODY)


def test_each_owner_has_its_own_key_derived_from_the_server_secret() -> None:
    alice, bob = owner_key("server-secret", "alice"), owner_key("server-secret", "bob")
    assert alice != bob and len(alice) == 32
    assert alice == hmac.new(b"server-secret", b"webhook-signing:alice", hashlib.sha256).digest()
    assert owner_key("another-secret", "alice") != alice
    secret = encode_secret(alice)
    assert secret.startswith("whsec_") and decode_secret(secret) == alice


def test_production_refuses_the_development_secret_key() -> None:
    server = {"environment": "production", "database_url": "postgresql+psycopg://db/x", "api_keys": "k:o"}
    with pytest.raises(ValueError, match="DJ_SECRET_KEY"):
        Settings(**server)
    with pytest.raises(ValueError, match="DJ_SECRET_KEY"):
        Settings(**server, secret_key="too-short")
    assert Settings(**server, secret_key="x" * 32).secret_key == "x" * 32
    assert Settings().secret_key == DEVELOPMENT_SECRET_KEY  # development runs without one
