"""Publishes change events to a NATS JetStream stream, each confirmed by the stream's PubAck.

Each event goes to `<prefix>.events.<entityType>` with `Nats-Msg-Id: <event id>`, so JetStream
drops a re-delivered event (a retry, a run after a crash, a replay) within the stream's
duplicate window. The async client runs on an event loop the sink owns, opened in `open` and
closed in `close`. A server that cannot be reached, or does not confirm in time, fails the sink
and its backlog waits for the next run; an event JetStream rejects is refused.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import (
    AuthorizationError,
    ConnectionClosedError,
    MaxPayloadError,
    NoRespondersError,
    NoServersError,
)
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError
from pydantic import Field, field_validator

from syncer.errors import SinkError
from syncer.events import encode
from syncer.http import TlsConfig
from syncer.paths import ConfigPath
from syncer.secrets import redact, remember
from syncer.sinks.eventsink import EventSink, EventSinkConfig, Outgoing
from syncer.steps import Refusal

T = TypeVar("T")
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")
_SUBJECT = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
# What JetStream answers when it is not enabled on the server (or the account).
_NO_JETSTREAM = (ServiceUnavailableError, NoRespondersError, NatsTimeout)


class NatsConfig(EventSinkConfig):
    servers: list[str] = Field(default_factory=lambda: ["nats://127.0.0.1:4222"], min_length=1)
    """NATS server URLs."""
    stream: str | None = None
    """The JetStream stream; default syncer-<workflow>."""
    subject_prefix: str | None = None
    """What every subject starts with; default syncer.<workflow>."""
    create_stream: bool = True
    """Create the stream when it is missing."""
    duplicate_window_seconds: float = Field(default=86_400, gt=0)
    """How long JetStream remembers an id to drop duplicates (a stream syncer creates)."""
    token: str | None = None
    """A NATS token, as a secret reference."""
    user: str | None = None
    """The user NATS knows."""
    password: str | None = None
    """Its password, as a secret reference."""
    credentials_file: ConfigPath | None = None
    """A .creds file (JWT and NKey seed)."""
    tls: TlsConfig | None = None
    """Present (even `{}`) to connect with TLS."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """How long to wait for the server to connect or confirm."""

    @field_validator("stream")
    @classmethod
    def _stream_name(cls, name: str | None) -> str | None:
        if name is not None and not _STREAM_NAME.match(name):
            raise ValueError("may hold only letters, digits, _ and - (no dots or wildcards)")
        return name

    @field_validator("subject_prefix")
    @classmethod
    def _subject(cls, prefix: str | None) -> str | None:
        if prefix is not None and not _SUBJECT.match(prefix):
            raise ValueError("must be dot-separated tokens without wildcards, e.g. syncer.shop")
        return prefix


def subject_token(name: str) -> str:
    """`name` as one subject token: anything but letters, digits, `_` and `-` becomes `_`."""
    return re.sub(r"[^A-Za-z0-9_\-]", "_", name) or "_"


class NatsSink(EventSink):
    config_model = NatsConfig
    config: NatsConfig

    def __init__(self, config: NatsConfig) -> None:
        super().__init__(config)
        for secret in (config.token, config.password):
            remember(secret or "")  # masked everywhere, also when built in code
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Client | None = None
        self._js: JetStreamContext | None = None

    @property
    def stream(self) -> str:
        return self.config.stream or f"syncer-{subject_token(self.workflow)}"

    @property
    def prefix(self) -> str:
        return self.config.subject_prefix or f"syncer.{subject_token(self.workflow)}"

    @property
    def _where(self) -> str:
        return f"NATS {', '.join(self.config.servers)}"

    def connect(self) -> None:
        js = self._open()
        if not self._run(self._has_stream(js, self.stream)):
            self._run(
                js.add_stream(
                    name=self.stream,
                    subjects=[f"{self.prefix}.events.>"],
                    duplicate_window=self.config.duplicate_window_seconds,
                )
            )

    def disconnect(self) -> None:
        loop, client = self._loop, self._client
        self._loop = self._client = self._js = None
        if loop is None:
            return
        try:
            if client is not None and not client.is_closed:
                loop.run_until_complete(asyncio.wait_for(client.close(), 5))
        except (TimeoutError, OSError, ConnectionClosedError):
            pass  # nothing of ours is in flight: every publish was confirmed or failed
        finally:
            loop.close()

    def probe(self) -> str:
        js = self._open()
        name = self.config.stream
        if name is None:  # named after the workflow, which a check does not know
            self._run(self._enabled(js))
            return f"{self._where}: JetStream enabled"
        if self._run(self._has_stream(js, name)):
            return f"{self._where}: stream {name} is there"
        return f"{self._where}: stream {name} is created on the first run"

    def send(self, events: Sequence[Outgoing]) -> dict[int, Refusal]:
        return self._run(self._publish(events))

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "open() first"
        return self._loop.run_until_complete(work)

    async def _connect(self) -> Client:
        config = self.config
        options: dict[str, Any] = {
            "connect_timeout": config.timeout_seconds,
            # Fail fast: a server that is down means the backlog waits for the next run.
            "max_reconnect_attempts": 1,
            "reconnect_time_wait": 0.25,
            "error_cb": _quiet,
            "name": f"syncer {self.workflow}",
        }
        if config.token:
            options["token"] = config.token
        if config.user:
            options["user"] = config.user
            options["password"] = config.password
        if config.credentials_file:
            options["user_credentials"] = str(config.credentials_file)
        if config.tls is not None:
            options["tls"] = _tls_context(config.tls)
        try:
            client: Client = await nats.connect(config.servers, **options)
        except AuthorizationError:
            raise SinkError(
                f"{self._where} refused the credentials; check token, user and password"
            ) from None
        except (NoServersError, OSError, TimeoutError, NatsTimeout) as exc:
            raise SinkError(
                f"{self._where} cannot be reached ({_describe(exc)}); start it, or check servers"
            ) from None
        return client

    def _open(self) -> JetStreamContext:
        self._loop = asyncio.new_event_loop()
        self._client = self._run(self._connect())
        self._js = self._client.jetstream(timeout=self.config.timeout_seconds)
        return self._js

    async def _has_stream(self, js: JetStreamContext, name: str) -> bool:
        """Whether stream `name` exists; a SinkError if it is missing and may not be created."""
        try:
            await js.stream_info(name)
        except NotFoundError:
            if not self.config.create_stream:
                raise SinkError(
                    f"{self._where}: JetStream has no stream {name}; create it, "
                    "or set create_stream: true"
                ) from None
            return False
        except _NO_JETSTREAM:
            raise self._no_jetstream() from None
        return True

    async def _enabled(self, js: JetStreamContext) -> None:
        try:
            await js.account_info()
        except _NO_JETSTREAM:
            raise self._no_jetstream() from None

    def _no_jetstream(self) -> SinkError:
        return SinkError(f"{self._where}: JetStream is not enabled; start nats-server with -js")

    async def _publish(self, events: Sequence[Outgoing]) -> dict[int, Refusal]:
        js = self._js
        assert js is not None, "open() first"
        refused: dict[int, Refusal] = {}
        for item in events:
            subject = f"{self.prefix}.events.{subject_token(item.change.entity_type)}"
            try:
                await js.publish(
                    subject,
                    encode(item.event),
                    timeout=self.config.timeout_seconds,
                    headers={"Nats-Msg-Id": item.id, "Content-Type": "application/json"},
                )
            except NoRespondersError:
                raise SinkError(
                    f"{self._where}: no JetStream stream takes subject {subject}; add "
                    f"{self.prefix}.events.> to stream {self.stream}'s subjects"
                ) from None
            except (NatsTimeout, ConnectionClosedError, ServiceUnavailableError, OSError) as exc:
                raise SinkError(
                    f"{self._where} did not confirm an event ({_describe(exc)})"
                ) from None
            except (APIError, MaxPayloadError) as exc:
                refused[item.seq] = Refusal(f"JetStream refused the event: {_describe(exc)}")
        return refused


def _tls_context(tls: TlsConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls.ca_bundle) if tls.ca_bundle else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _describe(exc: BaseException) -> str:
    text = str(exc).removeprefix("nats: ").strip()
    return redact(text or type(exc).__name__)


async def _quiet(exc: Exception) -> None:
    """nats-py prints every connection error with its traceback; the sink reports its own."""
