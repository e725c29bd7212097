"""The HTTP client every step that speaks HTTP shares: timeouts, TLS, auth and retries.

Connection errors, 408, 429 and 5xx are retried with exponential backoff and jitter; a
`Retry-After` header (seconds or an HTTP date) is honoured up to a cap. Redirects are never
followed: a moved endpoint is the user's to fix, and following one could carry a token to
another host. Secrets never reach a message: every error text goes through `redact`.

What goes over the wire is `requests`' business: a client takes a `transport`, any
`requests.adapters.BaseAdapter`, mounted for http:// and https://. The default is requests' own
`HTTPAdapter`; tests pass `syncer.testing.http.FakeTransport` to answer in-process, without
sockets. Failures are `Unavailable` (retry later), `BadResponse` (skip what was asked for) and
`CredentialsRefused` (fix the config), from `syncer.errors`, re-exported here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, Literal

import requests
import structlog
from pydantic import Field, HttpUrl
from requests.adapters import BaseAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from syncer import __version__, retries
from syncer.errors import BadResponse, CredentialsRefused, Unavailable
from syncer.paths import ConfigPath
from syncer.retries import RETRYABLE_STATUS
from syncer.secrets import redact, remember, remember_basic
from syncer.steps import StepConfig

__all__ = [
    "ERROR_TEXT_LIMIT",
    "RETRYABLE_STATUS",
    "ApiKey",
    "ApiKeyAuthConfig",
    "BadResponse",
    "BasicAuthConfig",
    "BearerAuthConfig",
    "BearerToken",
    "ClientCredentials",
    "CredentialsRefused",
    "HttpAuthConfig",
    "HttpClient",
    "RetryPolicy",
    "TlsConfig",
    "Unavailable",
    "authenticator",
    "error_message",
    "json_of",
    "retry_after",
    "session_with",
    "single_try",
    "without_query",
]

log = structlog.get_logger("syncer.http")

# A server's explanation of an error is shown, and stored, cut to this many characters: a body
# can be a whole HTML page, or echo the request with its credentials.
ERROR_TEXT_LIMIT = 300
_HINT = "check the URL points at the API"
# Within `single_try()`: every request is tried once, connecting for at most this long.
SINGLE_TRY_CONNECT_SECONDS = 5.0
_single_try: ContextVar[bool] = ContextVar("single_try", default=False)


class RetryPolicy(StepConfig):
    attempts: int = Field(default=6, ge=1, le=50)
    """Tries of one request, the first included."""
    initial_wait_seconds: float = Field(default=0.5, ge=0)
    """The first pause; it doubles each time, with jitter."""
    max_wait_seconds: float = Field(default=30.0, ge=0)
    """The longest pause between two tries."""
    max_retry_after_seconds: float = Field(default=120.0, ge=0)
    """A server asking for a longer pause than this gets this long; then we try again."""


class TlsConfig(StepConfig):
    verify: bool = True
    """Check the server's certificate; false only for a test server."""
    ca_bundle: ConfigPath | None = None
    """A PEM file of CAs to trust instead of the system's."""

    def requests_verify(self) -> bool | str:
        if not self.verify:
            return False
        return str(self.ca_bundle) if self.ca_bundle else True


class BearerAuthConfig(StepConfig):
    type: Literal["bearer"]
    """`Authorization: Bearer <token>`."""
    token: str = Field(min_length=1)
    """The token, as a secret reference."""


class BasicAuthConfig(StepConfig):
    type: Literal["basic"]
    """HTTP basic auth."""
    username: str = Field(min_length=1)
    """The user name."""
    password: str = Field(min_length=1)
    """The password, as a secret reference."""


class ApiKeyAuthConfig(StepConfig):
    type: Literal["api_key"]
    """A key in a header or a query parameter."""
    name: str = Field(min_length=1)
    """The header or query parameter that carries the key."""
    api_key: str = Field(min_length=1)
    """The key, as a secret reference."""
    location: Literal["header", "query"] = "header"
    """Where the key goes: a header or a query parameter."""


# `auth:` of a step that reads an HTTP API; every credential is a secret reference.
HttpAuthConfig = Annotated[
    BearerAuthConfig | BasicAuthConfig | ApiKeyAuthConfig, Field(discriminator="type")
]


def authenticator(config: HttpAuthConfig | None) -> AuthBase | None:
    """The `requests` auth for an `auth:` block (None: no auth)."""
    if config is None:
        return None
    if isinstance(config, BearerAuthConfig):
        return BearerToken(config.token)
    if isinstance(config, BasicAuthConfig):
        remember_basic(config.username, config.password)  # and the header's base64 of both
        return HTTPBasicAuth(config.username, config.password)
    return ApiKey(config.name, config.api_key, config.location)


class ApiKey(AuthBase):
    """A key sent in a header or a query parameter."""

    def __init__(self, name: str, key: str, location: Literal["header", "query"]) -> None:
        remember(key)
        self._name, self._key, self._location = name, key, location

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._location == "header":
            request.headers[self._name] = self._key
        else:
            request.prepare_url(request.url, {self._name: self._key})
        return request


class BearerToken(AuthBase):
    """A static token, e.g. an OpenMetadata bot's JWT."""

    def __init__(self, token: str) -> None:
        remember(token)
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


@contextmanager
def single_try() -> Iterator[None]:
    """Within: every request (and token fetch) is tried once, with a connect timeout of
    `SINGLE_TRY_CONNECT_SECONDS`, whatever the step's `retry` says: `syncer test-connection`
    tells of a server that is down at once, not after every retry."""
    entered = _single_try.set(True)
    try:
        yield
    finally:
        _single_try.reset(entered)


def _timeout(configured: float) -> float | tuple[float, float]:
    # requests' (connect, read) timeouts; within `single_try()` connecting is cut short.
    if not _single_try.get():
        return configured
    return (min(configured, SINGLE_TRY_CONNECT_SECONDS), configured)


def session_with(transport: BaseAdapter | None = None) -> requests.Session:
    """A `requests` session that sends everything through `transport`; with None, through
    requests' own adapters, as `requests.Session()` does."""
    session = requests.Session()
    if transport is not None:
        # Mounted for both schemes, so that no request can slip past a fake to the network.
        session.mount("http://", transport)
        session.mount("https://", transport)
    return session


class ClientCredentials(AuthBase):
    """OAuth2 client credentials: a token fetched from the issuer, renewed before it expires
    and once more when the server answers 401.

    The token is fetched through `transport` when one is given: the API's own, so that a test's
    fake answers the issuer too.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        audience: str | None = None,
        timeout: float = 30.0,
        verify: bool | str = True,
        skew_seconds: float = 60.0,
        transport: BaseAdapter | None = None,
    ) -> None:
        remember_basic(client_id, client_secret)  # sent to the issuer as basic auth
        self._token_url = token_url
        self._form = {"grant_type": "client_credentials"}
        if scope:
            self._form["scope"] = scope
        if audience:
            self._form["audience"] = audience
        self._basic = (client_id, client_secret)
        self._timeout = timeout
        self._verify = verify
        self._skew = skew_seconds
        self._transport = transport
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._current()}"
        return request

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _current(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._token, lifetime = self._fetch()
                # Renew ahead of expiry, but never so far ahead that a short-lived token is
                # renewed on every request.
                self._renew_at = time.monotonic() + lifetime - min(self._skew, lifetime / 2)
            return self._token

    def _fetch(self) -> tuple[str, float]:
        url = without_query(self._token_url)
        try:
            # A session per fetch, as `requests.post` makes; closing it clears a shared
            # adapter's pools, which any `requests` adapter refills on its next request.
            with session_with(self._transport) as http:
                response = http.post(
                    self._token_url,
                    data=self._form,
                    auth=self._basic,
                    timeout=_timeout(self._timeout),
                    verify=self._verify,
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            raise Unavailable(
                f"token issuer {self._token_url}: {_describe_transport(exc)}", url=url
            ) from None
        status = response.status_code
        if status in (400, 401, 403):
            raise CredentialsRefused(
                f"token issuer {self._token_url} refused the client credentials "
                f"(HTTP {status}); check client_id and client_secret",
                url=url,
                status=status,
            )
        try:
            body = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise BadResponse(
                f"token issuer {self._token_url} answered HTTP {status} "
                "without an access_token; check token_url",
                url=url,
                status=status,
            ) from None
        remember(token)
        expires_in = body.get("expires_in")
        return token, float(expires_in) if isinstance(expires_in, int | float) else 3600.0


class HttpClient:
    """A `requests` session bound to one base URL, with retries and auth.

    `transport` carries every request (see `session_with`); None keeps requests' own adapters.
    Retries, auth and the error wording stay here, above it, so a fake transport tests them.
    """

    def __init__(
        self,
        base_url: str | HttpUrl,
        *,
        auth: AuthBase | None = None,
        timeout: float = 30.0,
        tls: TlsConfig | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: BaseAdapter | None = None,
    ) -> None:
        self.base_url = str(base_url).rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._session = session_with(transport)
        self._session.verify = (tls or TlsConfig()).requests_verify()
        self._session.headers["User-Agent"] = f"syncer/{__version__}"
        self._session.headers.update(headers or {})

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send with retries; the response for any status that is not retried.

        Raises `Unavailable` when the server cannot be reached or keeps answering with a
        retryable status after the last attempt. A 401 with client credentials is retried
        once with a new token.
        """
        url = path if "://" in path else f"{self.base_url}/{path.lstrip('/')}"
        once = _single_try.get()
        retrying = Retrying(
            stop=stop_after_attempt(1 if once else self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._send(method, url, params, json, data, headers)
        except _Retryable as exc:
            where = without_query(url)
            raise Unavailable(
                f"{method} {where}: {exc.reason} "
                + ("(tried once)" if once else f"after {self.retry.attempts} attempts"),
                url=where,
                status=exc.response.status_code if exc.response is not None else None,
            ) from None
        return response

    def get_json(
        self, path: str, *, params: Mapping[str, Any] | None = None, hint: str = _HINT
    ) -> Any:
        """GET and parse JSON (see `json_of`)."""
        return self.get_json_response(path, params=params, hint=hint)[0]

    def get_json_response(
        self, path: str, *, params: Mapping[str, Any] | None = None, hint: str = _HINT
    ) -> tuple[Any, requests.Response]:
        """`get_json`, with the response for what the body does not say (headers, final URL)."""
        response = self.request("GET", path, params=params)
        return json_of(response, hint=hint), response

    def close(self) -> None:
        self._session.close()

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> requests.Response:
        for renewal in (False, True):
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=headers,
                    auth=self.auth,
                    timeout=_timeout(self.timeout),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise _Retryable(_describe_transport(exc)) from None
            if (
                response.status_code == 401
                and not renewal
                and isinstance(self.auth, ClientCredentials)
            ):
                self.auth.invalidate()
                continue
            break
        if response.status_code in RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {response.status_code}", response)
        return response

    def _wait(self, state: RetryCallState) -> float:
        policy = self.retry
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after(exc.response) if isinstance(exc, _Retryable) else None
        if asked is not None:
            return min(asked, policy.max_retry_after_seconds)
        backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait_seconds,
            max=policy.max_wait_seconds,
            jitter=policy.initial_wait_seconds,
        )
        return float(backoff(state))


class _Retryable(Exception):
    def __init__(self, reason: str, response: requests.Response | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.response = response


def retry_after(response: requests.Response | None, *, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def json_of(
    response: requests.Response,
    *,
    hint: str = _HINT,
    hints: Mapping[int, str] | None = None,
    explain: Callable[[requests.Response], str] | None = None,
) -> Any:
    """A response's JSON body, or a `BadResponse` on one line naming the request (method and
    URL without its query).

    An error status is told in the server's own words (`explain`, `error_message` by default),
    followed by `hints[status]` when the caller knows what that status means for its users
    (say 403: which role is missing). A redirect, never followed, and a body that is not JSON
    (an HTML page, a truncated answer) end with `hints[status]`, else with `hint`.
    """
    status = response.status_code
    url = without_query(response.url or "")
    where = f"{_method(response)} {url}"
    fix = (hints or {}).get(status)
    if 300 <= status < 400:
        location = redact(without_query(response.headers.get("Location") or "?"))
        raise BadResponse(
            f"{where}: redirected to {location} (HTTP {status}); {fix or hint}",
            url=url,
            status=status,
        )
    if not response.ok:
        said = _cut(redact((explain or error_message)(response)))
        raise BadResponse(f"{where}: {said}" + (f"; {fix}" if fix else ""), url=url, status=status)
    try:
        return response.json()
    except ValueError as exc:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        said = f"answered {kind}, not JSON (HTTP {status})"
        if "json" in kind:
            # A body that says it is JSON and is not was most likely cut short on the way.
            said = f"broken or truncated JSON: {said}: {redact(str(exc))}"
        raise BadResponse(f"{where}: {said}; {fix or hint}", url=url, status=status) from None


def error_message(response: requests.Response) -> str:
    """The server's own explanation of a failed request, on one line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") or body.get("error") if isinstance(body, dict) else None
    text = str(message) if message else response.text.strip() or response.reason
    return _cut(redact(f"HTTP {response.status_code}: {text[: 10 * ERROR_TEXT_LIMIT]}"))


def _cut(text: str) -> str:
    # Masked first, then cut: a cut through a secret would show the part before the cut.
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_LIMIT else f"{text[:ERROR_TEXT_LIMIT]}…"


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    response = exc.response if isinstance(exc, _Retryable) else None
    retries.count(response.status_code if response is not None else None)
    log.warning(
        "retrying request", reason=str(exc), attempt=state.attempt_number, wait_s=round(wait, 2)
    )


def _describe_transport(exc: requests.RequestException) -> str:
    kind: Literal["timed out", "cannot connect", "TLS failed", "failed"]
    if isinstance(exc, requests.Timeout):
        kind = "timed out"
    elif isinstance(exc, requests.exceptions.SSLError):
        kind = "TLS failed"
    elif isinstance(exc, requests.ConnectionError):
        kind = "cannot connect"
    else:
        kind = "failed"
    return redact(kind if kind != "failed" else f"{kind} ({type(exc).__name__})")


def _method(response: requests.Response) -> str:
    # A bare `Response` built by hand has no request; every one from a session has.
    request: requests.PreparedRequest | None = response.request
    return (request.method if request is not None else None) or "GET"


def without_query(url: str) -> str:
    # A query may hold an API key; a message names the endpoint, not its parameters.
    return url.split("?", 1)[0]
