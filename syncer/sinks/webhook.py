"""POSTs change events to an HTTP endpoint, signed as OpenMetadata signs its webhooks.

Every request carries `X-OM-Signature: sha256=<HMAC-SHA256(secret, body)>`, which OpenMetadata
receivers check, and `X-Syncer-Signature: t=<ts>,v1=<HMAC-SHA256(secret, "<ts>." + body)>`,
which also covers the time it was signed so that a receiver can refuse an old request played
again. 2xx acknowledges; 410 dead-letters; another 4xx or a 3xx (redirects are never followed)
refuses the events, which are offered again next run; a receiver that stays down or keeps
failing (connection errors, timeouts, 408, 429, 5xx after the retries) fails the sink, and its
backlog waits for the next run.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import requests
from pydantic import Field, field_validator
from requests.adapters import BaseAdapter

from syncer.errors import SinkError
from syncer.events import NAMESPACE, encode
from syncer.http import HttpClient, RetryPolicy, TlsConfig, error_message
from syncer.secrets import remember
from syncer.sinks.eventsink import EventSink, EventSinkConfig, Outgoing
from syncer.steps import Refusal
from syncer.urls import check_http_url

# Headers syncer sets itself; `headers` in the config may not override them.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "idempotency-key",
        "x-om-signature",
        "x-syncer-signature",
        "x-syncer-timestamp",
        "x-syncer-event-id",
        "x-syncer-workflow",
    }
)


class WebhookConfig(EventSinkConfig):
    url: str = Field(examples=["https://hooks.example.com/syncer"])
    """The receiver: an http:// or https:// URL."""
    secret: str = Field(min_length=16, examples=["${env:HOOK_SECRET}"])
    """Shared with the receiver, which checks the signatures with it. A reference such as
    ${env:HOOK_SECRET} keeps it out of the file."""
    batch_size: int = Field(default=1, ge=1, le=1000)
    """Events per request: 1 sends each as an object, more send up to this many as an array."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """Per attempt."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers (values may be secret references); the signature and id headers cannot be
    overridden."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    """Retries of connection errors, 408, 429 and 5xx, with backoff; Retry-After is honoured."""
    tls: TlsConfig = Field(default_factory=TlsConfig)
    """Certificate checks of the HTTPS connections."""

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            shown = f"{parts.scheme}://" if parts.scheme else repr(url.split("?", 1)[0][:40])
            raise ValueError(
                f"must be an http:// or https:// URL with a host, not {shown}; "
                "webhooks are sent with HTTP POST"
            )
        return check_http_url(url)

    @field_validator("headers")
    @classmethod
    def _not_ours(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"{name}: syncer sets this header itself; remove it")
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"{name}: a header may not contain a line break")
        return headers


def signature_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The signature headers of one request body, signed at `timestamp` (unix seconds)."""
    key = secret.encode()
    om = hmac.new(key, body, hashlib.sha256).hexdigest()
    timed = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-OM-Signature": f"sha256={om}",
        "X-Syncer-Timestamp": str(timestamp),
        "X-Syncer-Signature": f"t={timestamp},v1={timed}",
    }


def idempotency_key(ids: Sequence[str]) -> str:
    """An event's own id; for a batch, one derived from its ids (a receiver of batches should
    still deduplicate each event by its `id`: retried events may be batched differently)."""
    return ids[0] if len(ids) == 1 else str(uuid.uuid5(NAMESPACE, ",".join(ids)))


class WebhookSink(EventSink):
    config_model = WebhookConfig
    config: WebhookConfig

    def __init__(self, config: WebhookConfig, *, transport: BaseAdapter | None = None) -> None:
        """`transport` carries every request (None: requests' own)."""
        super().__init__(config)
        remember(config.secret)  # masked everywhere, also when the sink is built in code
        self._transport = transport
        self.group_size = config.batch_size
        self._client: HttpClient | None = None

    def connect(self) -> None:
        self._client = self._http(self.config.retry)

    def disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def probe(self) -> str:
        """An OPTIONS request, tried once: any answer but a redirect or an error shows the
        endpoint is there, and so do 405 and 501 (the receiver takes POST only)."""
        self._client = self._http(RetryPolicy(attempts=1))
        response = self._client.request("OPTIONS", self.config.url)
        status = response.status_code
        if 300 <= status < 400:
            raise SinkError(_redirected(self.config.url, status, response.headers))
        if status >= 400 and status not in (405, 501):
            raise SinkError(f"{_plain(self.config.url)} answered {error_message(response)}")
        return f"{_plain(self.config.url)} answers (HTTP {status})"

    def send(self, events: Sequence[Outgoing]) -> dict[int, Refusal]:
        assert self._client is not None, "open() first"
        batched = self.config.batch_size > 1
        body = encode([e.event for e in events] if batched else events[0].event)
        ids = [e.id for e in events]
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key(ids),
            "X-Syncer-Workflow": self.workflow,
            **signature_headers(self.config.secret, body, int(time.time())),
        }
        if not batched:
            headers["X-Syncer-Event-Id"] = ids[0]
        # Raises `Unavailable` once the retries are spent: the whole backlog waits.
        response = self._client.request("POST", self.config.url, data=body, headers=headers)
        refusal = self._verdict(response)
        return {e.seq: refusal for e in events} if refusal else {}

    def _http(self, retry: RetryPolicy) -> HttpClient:
        return HttpClient(
            self.config.url,
            timeout=self.config.timeout_seconds,
            tls=self.config.tls,
            retry=retry,
            headers=self.config.headers,
            transport=self._transport,
        )

    def _verdict(self, response: requests.Response) -> Refusal | None:
        status = response.status_code
        if 200 <= status < 300:
            return None
        if status == 410:
            return Refusal(f"{error_message(response)} (gone: dead-lettered at once)", final=True)
        if 300 <= status < 400:
            return Refusal(_redirected(self.config.url, status, response.headers))
        return Refusal(error_message(response))


def _redirected(url: str, status: int, headers: Mapping[str, str]) -> str:
    location = headers.get("Location")
    target = _plain(urljoin(url, location)) if location else "nowhere"
    return (
        f"webhook {_plain(url)} redirected (HTTP {status}) to {target}; redirects "
        "are not followed: set `url` to the new address if you trust it"
    )


def _plain(url: str) -> str:
    # A query may hold a token: name where a URL points, not its parameters.
    return url.split("?", 1)[0]
