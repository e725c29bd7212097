"""Webhook signatures as a receiver checks them, with the docs' snippet (`verify`, on
docs/sinks/webhook.md, kept word for word in tests/support/receiver.py): the OpenMetadata one over
the raw body, and syncer's own over the timestamp and body."""

from __future__ import annotations

import ast
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from syncer.sinks.webhook import idempotency_key, signature_headers
from tests.support import receiver
from tests.support.receiver import verify

SECRET = "a-shared-secret-of-some-length"
BODY = b'{"id":"e1","eventType":"entityCreated"}'
WEBHOOK_PAGE = Path(__file__).resolve().parents[3] / "docs" / "sinks" / "webhook.md"


def snippet_on_the_webhook_page() -> str:
    blocks = re.findall(r"```python\n(.*?)```", WEBHOOK_PAGE.read_text(), re.DOTALL)
    found = [block for block in blocks if "def verify(" in block]
    assert len(found) == 1, f"{WEBHOOK_PAGE.name} should show one receiver snippet, `verify`"
    return str(found[0])


def verify_from(code: str) -> Callable[..., bool]:
    namespace: dict[str, Any] = {}
    exec(compile(code, str(WEBHOOK_PAGE), "exec"), namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


def body_of_verify(tree: ast.AST) -> str:
    function = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    return "\n".join(ast.unparse(statement) for statement in function.body)


def test_the_snippet_on_the_webhook_page_verifies_a_signed_body_and_refuses_a_changed_one() -> None:
    page_verify = verify_from(snippet_on_the_webhook_page())
    headers = signature_headers(SECRET, BODY, int(time.time()))

    assert page_verify(SECRET.encode(), BODY, headers)
    assert not page_verify(SECRET.encode(), BODY + b" ", headers)


def test_the_receiver_of_the_tests_checks_signatures_as_the_webhook_page_says() -> None:
    on_the_page = ast.parse(snippet_on_the_webhook_page())
    in_the_tests = ast.parse(Path(receiver.__file__).read_text())

    assert body_of_verify(on_the_page) == body_of_verify(in_the_tests)


def test_a_signed_body_verifies_with_the_docs_snippet() -> None:
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
