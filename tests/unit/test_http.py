from __future__ import annotations

from datetime import UTC, datetime

import requests

from syncer.http import retry_after


def _response(**headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    return response


def test_retry_after_in_seconds_is_taken_as_given() -> None:
    assert retry_after(_response(**{"Retry-After": "2"})) == 2.0


def test_retry_after_as_an_http_date_is_the_time_until_then() -> None:
    now = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    asked = retry_after(_response(**{"Retry-After": "Tue, 24 Nov 2026 10:00:07 GMT"}), now=now)
    assert asked == 7.0


def test_a_retry_after_date_in_the_past_asks_for_no_wait() -> None:
    now = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    assert retry_after(_response(**{"Retry-After": "Tue, 24 Nov 2026 09:00:00 GMT"}), now=now) == 0


def test_an_unreadable_or_missing_retry_after_is_ignored() -> None:
    assert retry_after(_response(**{"Retry-After": "soon"})) is None
    assert retry_after(_response()) is None
    assert retry_after(None) is None
