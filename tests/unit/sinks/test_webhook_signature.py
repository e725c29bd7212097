"""Webhook signatures as a receiver checks them, with the README's snippet (`verify`): the
OpenMetadata one over the raw body, and syncer's own over the timestamp and body."""

from __future__ import annotations

import hashlib
import hmac
import time

from syncer.sinks.webhook import idempotency_key, signature_headers
from tests.support.receiver import verify

SECRET = "a-shared-secret-of-some-length"
BODY = b'{"id":"e1","eventType":"entityCreated"}'


def test_a_signed_body_verifies_with_the_readme_snippet() -> None:
    headers = signature_headers(SECRET, BODY, int(time.time()))

    assert verify(SECRET.encode(), BODY, headers)


def test_the_openmetadata_signature_is_the_hmac_of_the_raw_body() -> None:
    headers = signature_headers(SECRET, BODY, 1_700_000_000)

    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert headers["X-OM-Signature"] == f"sha256={expected}"


def test_syncers_signature_covers_the_timestamp_and_the_body() -> None:
    headers = signature_headers(SECRET, BODY, 1_700_000_000)

    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert headers["X-Syncer-Timestamp"] == "1700000000"
    assert headers["X-Syncer-Signature"] == f"t=1700000000,v1={expected}"


def test_a_changed_body_or_another_secret_does_not_verify() -> None:
    headers = signature_headers(SECRET, BODY, int(time.time()))

    assert not verify(SECRET.encode(), BODY.replace(b"e1", b"e2"), headers)
    assert not verify(b"another-secret-entirely", BODY, headers)


def test_an_old_request_played_again_is_refused() -> None:
    ten_minutes_ago = int(time.time()) - 600

    assert not verify(SECRET.encode(), BODY, signature_headers(SECRET, BODY, ten_minutes_ago))


def test_a_moved_timestamp_breaks_the_timed_signature() -> None:
    now = int(time.time())
    headers = signature_headers(SECRET, BODY, now - 600)
    # A replayer who sets a fresh time keeps the OpenMetadata signature valid, but not ours.
    v1 = headers["X-Syncer-Signature"].split(",v1=")[1]
    headers["X-Syncer-Signature"] = f"t={now},v1={v1}"

    assert not verify(SECRET.encode(), BODY, headers)


def test_an_unsigned_request_does_not_verify() -> None:
    assert not verify(SECRET.encode(), BODY, {})


def test_the_idempotency_key_is_the_event_id_or_derived_from_a_batchs_ids() -> None:
    assert idempotency_key(["e1"]) == "e1"
    assert idempotency_key(["e1", "e2"]) == idempotency_key(["e1", "e2"])
    assert idempotency_key(["e1", "e2"]) != idempotency_key(["e2", "e1"])
