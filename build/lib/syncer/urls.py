"""The URL of every step that speaks HTTP, checked when the config is loaded.

`HttpAddress` is the pydantic type of such a field (a `pydantic.HttpUrl`, checked first by
`check_http_url`); a field kept as text (a webhook's `url`, dbt's `path`) calls `check_http_url`
itself. A URL that cannot work (port 99999, no host, a space in it) is refused when the config is
loaded, naming the key, instead of failing each request and being retried as if the server were
down.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, HttpUrl

__all__ = ["HttpAddress", "check_http_url"]

_SCHEMES = ("http", "https")
_HOST_NAME = re.compile(r"^[A-Za-z0-9._~-]+$")
_EXAMPLE = "e.g. https://api.example.com:8443/v1"


def check_http_url(url: str) -> str:
    """`url` if it is an http(s) URL that a request can be sent to; else a `ValueError` saying
    what is wrong with it (never quoting the whole URL, which may hold a password)."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError(
            "must not hold spaces or control characters; percent-encode them (%20 for a space)"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed [IPv6 address
        raise ValueError(f"is not a valid URL ({exc}); {_EXAMPLE}") from None
    if parts.scheme.lower() not in _SCHEMES or not parts.netloc:
        shown = f"{parts.scheme}://" if parts.scheme and "://" in url else "text without http://"
        raise ValueError(f"must be an http:// or https:// URL with a host, not {shown}; {_EXAMPLE}")
    _check_host(parts.hostname or "")
    _check_port(parts.netloc.rpartition("@")[2])
    return url


def _check_host(host: str) -> None:
    if not host:
        raise ValueError(f"has no host; {_EXAMPLE}")
    if ":" in host:  # an IPv6 address in brackets, which `urlsplit` has checked
        return
    if host.isascii():
        labels = host.rstrip(".").split(".")
        if _HOST_NAME.match(host) and all(0 < len(label) <= 63 for label in labels):
            return
    else:
        try:
            host.encode("idna")
            return
        except UnicodeError:
            pass
    raise ValueError(f"host {host!r} is not a valid host name or IP address")


def _check_port(hostport: str) -> None:
    """`hostport` is the URL's netloc without its user info: `host`, `host:port`, `[v6]:port`."""
    if hostport.startswith("["):
        _, _, rest = hostport.partition("]")
        port = rest[1:] if rest.startswith(":") else None
    else:
        _, colon, port_text = hostport.rpartition(":")
        port = port_text if colon else None
    if port is None or port == "":
        return  # the scheme's own port (an empty one, `host:`, means it too)
    if not port.isdigit():
        raise ValueError(f"port {port[:12]!r} is not a number; a port is from 1 to 65535")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"port {int(port)} is out of range; a port is from 1 to 65535")


def _checked(value: Any) -> Any:
    if isinstance(value, str):
        check_http_url(value)
    return value


# The type of a config field that holds the URL of an HTTP server or API.
HttpAddress = Annotated[HttpUrl, BeforeValidator(_checked)]
