"""structlog set-up: readable on a terminal, JSON lines otherwise; secrets always masked.

Lines go to `sys.stderr` as it is when each is written, so that while a progress display is
live (rich swaps stderr for a proxy then) a log line is printed above it, not into it. A dumb
terminal (`TERM=dumb`) or `NO_COLOR` gets no colours. A run ends with one `run finished` event
(`run_finished`) in JSON lines, whatever the level: programs read it, people read the summary.

Masked are every string of an event, however deeply nested, the repr of any other value that
would show a secret, and the traceback of an `exc_info`; what other libraries log through
Python's `logging` (rendered as syncer's own events); and the traceback of an error no one
caught (`--debug`), which Python would otherwise print as it is.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from collections.abc import Mapping, MutableMapping
from types import TracebackType
from typing import Any, Literal

import structlog

from syncer.secrets import redact

LogFormat = Literal["auto", "console", "json"]

_json_lines = False  # whether lines are JSON (set by `configure`)


def configure(fmt: LogFormat = "auto", level: str = "info") -> None:
    global _json_lines
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    _json_lines = not console
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=_colours())
        if console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    # sqlglot logs the text of statements it cannot parse; that text can hold literals, and
    # syncer reports an unparsable statement itself, without its text.
    logging.getLogger("sqlglot").setLevel(logging.CRITICAL)
    root = logging.getLogger()
    if not any(isinstance(h, _OtherLibraries) for h in root.handlers):
        root.addHandler(_OtherLibraries(logging.WARNING))
    sys.excepthook = print_masked_traceback
    threading.excepthook = _print_masked_thread_traceback


class _OtherLibraries(logging.Handler):
    """What other libraries log (SQLAlchemy's pool, urllib3, DuckDB's driver), at warning and
    above, as syncer's own events: the same format, and secrets masked, as Python's fallback
    handler would print them as they are."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = record.getMessage()
        except Exception:  # a library's bad format string: its raw text, masked like the rest
            event = str(record.msg)
        logger = structlog.get_logger(record.name)
        logger.log(record.levelno, event, logger=record.name, exc_info=record.exc_info or None)


def only_errors() -> None:
    """Log errors only from now on (`--quiet`)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def run_finished(document: Mapping[str, Any], *, ok: bool) -> None:
    """The event that ends a run, carrying its document (`syncer.results.run_document`): in
    JSON lines only, and whatever the level (at info when the run exits 0, else error)."""
    if not _json_lines:
        return
    logger = structlog.wrap_logger(None, wrapper_class=structlog.BoundLogger)
    if ok:
        logger.info("run finished", **document)
    else:
        logger.error("run finished", **document)


def masked(value: Any) -> Any:
    """A value, however deeply nested, with every secret in it masked."""
    return _masked(value)


def _colours() -> bool:
    return os.environ.get("TERM") != "dumb" and "NO_COLOR" not in os.environ


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    """A logger that writes to `sys.stderr` as it is now (see the module's docstring)."""
    return structlog.PrintLogger(sys.stderr)


def print_masked_traceback(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """Print an uncaught error's traceback to stderr, as Python does, with secrets masked."""
    sys.stderr.write(redact("".join(traceback.format_exception(kind, exc, tb))))


def _print_masked_thread_traceback(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n")
    print_masked_traceback(args.exc_type, args.exc_value, args.exc_traceback)


def _mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    info = _exc_info(event.pop("exc_info", None))
    if info is not None:
        event["exception"] = "".join(traceback.format_exception(*info))
    return {key: _masked(value) for key, value in event.items()}


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    # Either renderer prints the repr of any other value (an exception, a path); its str is
    # printed instead when either shows a secret, as a repr of a repr escapes it twice over.
    text, shown = str(value), repr(value)
    return value if redact(text) == text and redact(shown) == shown else redact(text)


def _exc_info(value: Any) -> tuple[type[BaseException], BaseException, TracebackType | None] | None:
    if value is True:
        value = sys.exc_info()
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return type(value[1]), value[1], value[2]
    return None
