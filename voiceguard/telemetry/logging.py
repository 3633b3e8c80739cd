"""Structured JSON logs: one line per exchange, never a body, never a credential.

Logs are written from the ``ExchangeFinished`` record, with an explicit list of fields, so nothing that
flows through the proxy (prompts, transcripts, keys in headers or subprotocols) can reach a log line by
accident. A last processor drops any field whose name looks like a secret, as a safety net for log calls
elsewhere.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, MutableMapping
from typing import Any, Final, TextIO

import orjson
import structlog

from voiceguard.records import ExchangeFinished, Record
from voiceguard.telemetry import ids, names

_SECRET_KEYS: Final = (
    "authorization",
    "api_key",
    "apikey",
    "token",
    "password",
    "secret",
    "xi-api-key",
    "cookie",
)


@functools.lru_cache(maxsize=1024)
def _is_secret(key: str) -> bool:
    """Log calls use a small fixed set of field names: each is looked at once, not on every line."""
    lowered = key.lower()
    return any(part in lowered for part in _SECRET_KEYS)


def _drop_secrets(_logger: object, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if _is_secret(key):
            event[key] = "[removed]"
    return event


def _orjson_dumps(event: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps`` for log lines, several times faster (the request line is written for every exchange);
    same fields and values, without the blanks after separators."""
    return orjson.dumps(event, default=default, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Route structlog (and the standard library's warnings) to ``stream``, stderr by default."""
    stream = stream or sys.stderr
    numeric = getattr(logging, level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _drop_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=max(numeric, logging.WARNING), stream=stream, format="%(levelname)s %(name)s %(message)s"
    )


class RequestLogSink:
    """Writes the one line per exchange that operators grep for."""

    name = "request-log"

    def __init__(self) -> None:
        self._log = structlog.get_logger("voiceguard.access")

    def wants(self, kind: type[Record]) -> bool:
        """Only finished exchanges make a line (``SelectiveSink``)."""
        return issubclass(kind, ExchangeFinished)

    def handle(self, record: Record) -> None:
        if not isinstance(record, ExchangeFinished):
            return
        exchange = record.exchange
        finished = exchange.finished_ns or exchange.started_ns
        ttfb = (
            (exchange.first_byte_ns - exchange.request_sent_ns) / 1e6
            if exchange.first_byte_ns and exchange.request_sent_ns
            else None
        )
        self._log.info(
            names.LOG_REQUEST,
            call_id=exchange.call.id,
            trace_id=ids.trace_id_hex(exchange.call),
            exchange_id=exchange.id,
            route=exchange.route,
            transport=exchange.transport,
            method=exchange.method,
            path=exchange.path,
            operation=exchange.info.operation,
            status=exchange.status,
            outcome=exchange.outcome,
            error_type=exchange.error_type,
            duration_ms=round((finished - exchange.started_ns) / 1e6, 3),
            upstream_ttfb_ms=round(ttfb, 3) if ttfb is not None else None,
            proxy_overhead_ms=round(exchange.proxy_ns / 1e6, 3),
            bytes_from_client=exchange.bytes_from_client,
            bytes_to_client=exchange.bytes_to_client,
            messages_from_client=exchange.messages_from_client or None,
            messages_to_client=exchange.messages_to_client or None,
        )
