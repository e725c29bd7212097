"""Logging in to Airflow: the shared HTTP auths, and Airflow 3's JWTs from `POST /auth/token`.

Airflow 3's api-server takes no basic auth: a client trades a username and password for a JWT
(valid for a day by default, far longer than a sync) and sends it as a bearer token. The token
is fetched once, on the first request, and remembered as a secret so no log line shows it.
"""

from __future__ import annotations

import threading

import requests
from requests.adapters import BaseAdapter
from requests.auth import AuthBase

from syncer.connectors.airflow.config import AirflowConfig, JwtAuthConfig
from syncer.errors import BadResponse, CredentialsRefused, Unavailable
from syncer.http import authenticator, session_with, without_query
from syncer.secrets import redact, remember


class AirflowToken(AuthBase):
    """A bearer JWT that Airflow issues for a username and password."""

    def __init__(
        self,
        token_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 30.0,
        verify: bool | str = True,
        transport: BaseAdapter | None = None,
    ) -> None:
        remember(password)
        self.token_url = token_url
        self._credentials = {"username": username, "password": password}
        self._timeout = timeout
        self._verify = verify
        self._transport = transport
        self._token: str | None = None
        self._lock = threading.Lock()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._fetch()
            return self._token

    def _fetch(self) -> str:
        where = f"POST {self.token_url}"
        url = without_query(self.token_url)
        try:
            # A session per fetch, as `requests.post` makes; closing it leaves a shared
            # transport usable (requests' adapters refill their pools on the next request).
            with session_with(self._transport) as http:
                response = http.post(
                    self.token_url,
                    json=self._credentials,
                    timeout=self._timeout,
                    verify=self._verify,
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            raise Unavailable(
                redact(f"{where}: cannot get a token ({type(exc).__name__})"), url=url
            ) from None
        status = response.status_code
        if status in (400, 401, 403, 422):
            raise CredentialsRefused(
                f"{where}: Airflow refused the username and password (HTTP {status}); "
                "check source.config.auth.username and password",
                url=url,
                status=status,
            )
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise BadResponse(
                f"{where}: answered HTTP {status} without an access_token; "
                "check auth.token_path, or that host is an Airflow 3 api-server",
                url=url,
                status=status,
            )
        remember(token)
        return token


def airflow_auth(config: AirflowConfig, transport: BaseAdapter | None = None) -> AuthBase | None:
    """The `requests` auth for the source's `auth:` block (None: no auth). A JWT is fetched
    through `transport` (None: requests' own), the API's, so that a test's fake answers it too."""
    auth = config.auth
    if isinstance(auth, JwtAuthConfig):
        path = auth.token_path if auth.token_path.startswith("/") else f"/{auth.token_path}"
        return AirflowToken(
            f"{config.base_url}{path}",
            auth.username,
            auth.password,
            timeout=config.timeout_seconds,
            verify=config.tls.requests_verify(),
            transport=transport,
        )
    return authenticator(auth)
