"""The rest source: reads JSON APIs page by page, as the config describes, and maps each record.

The HTTP client is syncer's shared one (auth, TLS, retries on 429 and 5xx with `Retry-After`).
A page that cannot be read or understood is an error of its stream (or, for a child endpoint,
of one parent's children), never silently skipped: the stream's deletions are held back and its
watermark stays where it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import structlog
from requests.adapters import BaseAdapter

from syncer.connectors.rest import timefmt
from syncer.connectors.rest.config import (
    SERVICE_STREAM,
    SINCE,
    CursorConfig,
    EndpointConfig,
    RestConfig,
)
from syncer.connectors.rest.expressions import (
    JSON,
    EvaluationError,
    Expression,
    MissingValue,
    Template,
)
from syncer.connectors.rest.mapping import EntityMapper, MappingError
from syncer.connectors.rest.paginate import Page, PageRequest, PaginationError, paginator
from syncer.errors import SourceError, SyncerError
from syncer.http import ApiKeyAuthConfig, HttpClient, authenticator, without_query
from syncer.models import ENTITY_TYPES
from syncer.secrets import redact
from syncer.steps import (
    ConnectionReport,
    Cursor,
    CursorValue,
    Either,
    RecordError,
    Source,
    Stream,
)

log = structlog.get_logger(__name__)

# A raw record and the parent record it was read for (None at the top level).
Item = tuple[JSON, JSON]


class PageError(SourceError):
    """One page of an endpoint that could not be read or understood."""


class RestSource(Source):
    """Reads the endpoints of one JSON API into entities of the configured types."""

    config_model = RestConfig
    config: RestConfig

    def __init__(
        self,
        config: RestConfig,
        client: HttpClient | None = None,
        *,
        transport: BaseAdapter | None = None,
    ) -> None:
        """`transport` carries every request (None: requests' own); a given `client` already
        has its own."""
        super().__init__(config)
        self.endpoints = {e.name: e for e in config.endpoints}
        self.mappers: dict[str, EntityMapper] = {e.name: config.mapper(e) for e in config.endpoints}
        self.base_url = str(config.base_url).rstrip("/")
        self.client = client or HttpClient(
            self.base_url,
            auth=authenticator(config.auth),
            timeout=config.timeout_seconds,
            tls=config.tls,
            retry=config.retry,
            headers=config.headers,
            transport=transport,
        )
        # Full reads of an endpoint in this run, shared by the streams: whichever of an
        # endpoint's own stream and its children's streams reads it first, the others do not
        # fetch it again (whatever the order of the streams).
        self._cache: dict[str, list[Item]] = {}
        self._next_slot = 0.0

    # --- the Source contract ----------------------------------------------------------------

    def streams(self) -> list[Stream]:
        """The configured service (if any), then a stream per endpoint, each reading its
        endpoint through its mapper."""
        streams = []
        if self.config.service is not None:
            streams.append(Stream(SERVICE_STREAM, self.config.service.type, read=self._services))
        for endpoint in self.config.endpoints:
            streams.append(
                Stream(
                    endpoint.name,
                    endpoint.entity,
                    read=partial(self._endpoint, endpoint, self.mappers[endpoint.name]),
                    cursor=_cursor(endpoint.cursor) if endpoint.cursor else None,
                    deletions=endpoint.deletions,
                )
            )
        return streams

    def test_connection(self) -> ConnectionReport:
        checks: list[tuple[str, bool, str]] = []
        for endpoint in self.config.endpoints:
            if endpoint.parent is not None:
                continue
            try:
                records = next(self._pages(endpoint, None, None), [])
            except (SyncerError, PaginationError, MissingValue, EvaluationError) as exc:
                checks.append((f"endpoint {endpoint.name}", False, redact(str(exc))))
            else:
                checks.append((f"endpoint {endpoint.name}", True, f"{len(records)} on page 1"))
        return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)

    def close(self) -> None:
        self._cache.clear()
        self.client.close()

    # --- the streams' readers ----------------------------------------------------------------

    def _services(self, since: CursorValue | None) -> Iterator[Either]:
        service = self.config.service
        assert service is not None
        yield ENTITY_TYPES[service.type].model_validate(
            service.model_dump(exclude={"type"}, exclude_none=True)
        )

    def _endpoint(
        self, endpoint: EndpointConfig, mapper: EntityMapper, since: CursorValue | None
    ) -> Iterator[Either]:
        """One endpoint's records as entities; with a cursor, those at or after `since`."""
        bound = since if isinstance(since, datetime) and endpoint.cursor else None
        descending = endpoint.cursor is not None and endpoint.cursor.ordering == "descending"
        for index, item in enumerate(self._records(endpoint, bound), start=1):
            if isinstance(item, RecordError):
                yield item
                continue
            record, parent = item
            try:
                cursor = mapper.cursor_of(record, parent)
                if bound is not None and cursor is not None and cursor < bound:
                    if descending:
                        return  # everything further on is older still
                    continue
                yield mapper.map(record, parent, cursor)
            except MappingError as exc:
                label = mapper.label(record, parent, index)
                yield RecordError(f"{endpoint.name} {label}", str(exc))

    def _records(
        self, endpoint: EndpointConfig, since: datetime | None
    ) -> Iterator[Item | RecordError]:
        if since is None:
            yield from self._full(endpoint)
        else:
            yield from self._read(endpoint, since)

    def _full(self, endpoint: EndpointConfig) -> Iterator[Item | RecordError]:
        """Every record of an endpoint, read once per run however many streams need it."""
        cached = self._cache.get(endpoint.name)
        if cached is not None:
            yield from cached
            return
        kept: list[Item] = []
        complete = True
        for item in self._read(endpoint, None):
            if isinstance(item, RecordError):
                complete = False
            else:
                kept.append(item)
            yield item
        if complete:
            self._cache[endpoint.name] = kept

    def _read(
        self, endpoint: EndpointConfig, since: datetime | None
    ) -> Iterator[Item | RecordError]:
        if endpoint.parent is None:
            yield from self._guarded(endpoint, None, since, endpoint.name)
            return
        parent_mapper = self.mappers[endpoint.parent]
        index = 0
        for item in self._full(self.endpoints[endpoint.parent]):
            if isinstance(item, RecordError):
                # The parent list is incomplete: say so in this stream too, so that it does
                # not take the children it could not read for deletions.
                yield RecordError(f"{endpoint.name}: parent {item.record}", item.reason)
                continue
            index += 1
            parent = item[0]
            label = (
                f"{endpoint.name} of {endpoint.parent} {parent_mapper.label(parent, None, index)}"
            )
            yield from self._guarded(endpoint, parent, since, label)

    def _guarded(
        self, endpoint: EndpointConfig, parent: JSON, since: datetime | None, label: str
    ) -> Iterator[Item | RecordError]:
        """The records of one pass over an endpoint; a failing page ends it with its error."""
        try:
            for records in self._pages(endpoint, parent, since):
                for record in records:
                    yield record, parent
        except PageError as exc:
            yield RecordError(label, redact(str(exc)))
        except MissingValue as exc:
            yield RecordError(
                label, f"the parent record has no `{exc.expression}` to fill the request with"
            )
        except EvaluationError as exc:
            yield RecordError(label, f"filling the request: {exc}")
        except SyncerError as exc:  # the client's Unavailable and BadResponse name the URL
            yield RecordError(label, redact(str(exc)))

    # --- pages ------------------------------------------------------------------------------

    def _pages(
        self, endpoint: EndpointConfig, parent: JSON, since: datetime | None
    ) -> Iterator[list[JSON]]:
        path = Template(endpoint.path).render(None, parent, url_quote=True)
        params = {k: _param(v, parent) for k, v in endpoint.params.items()}
        if since is not None and endpoint.cursor is not None and endpoint.cursor.param:
            params[endpoint.cursor.param] = _since(endpoint.cursor, since)
        pager = paginator(endpoint.pagination)
        request: PageRequest | None = pager.first()
        previous: JSON = None
        current = f"{self.base_url}/{path.lstrip('/')}"
        number = 0
        while request is not None:
            number += 1
            if request.url is not None:
                body, headers, current = self._get(self._follow(request.url, current), None)
            else:
                body, headers, current = self._get(path, {**params, **request.params})
            where = f"endpoint {endpoint.name}: page {number} (GET {without_query(current)})"
            records = _select(endpoint, body, where)
            if records and number > 1 and body == previous:
                raise PageError(
                    f"{where} is the same as page {number - 1}; the API may ignore the "
                    "pagination parameters: check `pagination:`"
                )
            previous = body
            log.debug("page read", endpoint=endpoint.name, page=number, records=len(records))
            yield records
            try:
                request = pager.next(Page(body, headers, len(records)))
            except (PaginationError, EvaluationError) as exc:
                raise PageError(f"{where}: {exc}") from None

    def _get(
        self, target: str, params: Mapping[str, Any] | None
    ) -> tuple[JSON, Mapping[str, str], str]:
        """The parsed body, headers and final URL of one GET; `BadResponse` names the URL."""
        self._pace()
        body, response = self.client.get_json_response(
            target, params=params, hint="check base_url and the endpoint's path"
        )
        return body, response.headers, response.url or target

    def _follow(self, link: str, current: str) -> str:
        """A next link made absolute; only on the API's own host, so credentials stay there."""
        url = urljoin(current, link)
        if _origin(url) != _origin(self.base_url):
            raise PageError(
                f"the next page link points at {_origin(url)}, not {_origin(self.base_url)}; "
                "it is not followed, so credentials are never sent elsewhere"
            )
        auth = self.config.auth
        if isinstance(auth, ApiKeyAuthConfig) and auth.location == "query":
            # The client adds the key itself; a link that echoes it would send it twice.
            parts = urlsplit(url)
            query = [
                (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != auth.name
            ]
            url = urlunsplit(parts._replace(query=urlencode(query)))
        return url

    def _pace(self) -> None:
        rate = self.config.requests_per_second
        if rate is None:
            return
        now = time.monotonic()
        if self._next_slot > now:
            time.sleep(self._next_slot - now)
        self._next_slot = max(now, self._next_slot) + 1 / rate


def _cursor(config: CursorConfig) -> Cursor:
    # Every cursor of this source is a time, kept by the engine as the entity's updated_at.
    return Cursor(
        field="updated_at",
        kind="datetime",
        ordering="sorted" if config.ordering == "ascending" else "unsorted",
        lookback=timedelta(seconds=config.lookback_seconds) if config.lookback_seconds else None,
    )


def _since(cursor: CursorConfig, since: datetime) -> str | int:
    value = timefmt.render(since, cursor.param_format or cursor.format)
    if cursor.param_template is None:
        return value
    return cursor.param_template.replace(SINCE, str(value))


def _param(value: Any, parent: JSON) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return Template(value).render(None, parent)
    return value


def _select(endpoint: EndpointConfig, body: JSON, where: str) -> list[JSON]:
    """The records of one page, found by the endpoint's `records` selector."""
    selector = endpoint.records
    try:
        found = body if selector is None else Expression(selector).search(body)
    except EvaluationError as exc:
        raise PageError(f"{where}: the records selector {exc}") from None
    if found is None:
        if endpoint.on_missing_records == "empty":
            return []
        keys = ", ".join(sorted(body)[:12]) if isinstance(body, dict) else type(body).__name__
        raise PageError(
            f"{where}: the records selector `{selector or '(the whole body)'}` found nothing "
            f"(the response has: {keys or 'no keys'}); fix `records:`, or set "
            "on_missing_records: empty if the API leaves it out when there are none"
        )
    if isinstance(found, list):
        return found
    if isinstance(found, dict):
        return [found]  # an endpoint that answers one object
    raise PageError(
        f"{where}: the records selector `{selector}` found {type(found).__name__} "
        "instead of a list of records or one record"
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
