"""Where traces and metrics go: OTLP (HTTP or gRPC) from the standard ``OTEL_*`` variables, and a local file.

Exporting never touches the request path: finished spans go into a bounded queue that a worker thread drains
in batches. A collector that is down, refuses, or accepts and never answers only makes that thread wait (up to
the export timeout); when the queue is full new spans are dropped and counted
(``voiceguard.telemetry.dropped``), never waited for. Shutdown is bounded the same way, so a dead collector
cannot hold a stopping proxy either.

Variables read (OpenTelemetry specification names): ``OTEL_SDK_DISABLED``, ``OTEL_TRACES_EXPORTER``,
``OTEL_METRICS_EXPORTER`` (``otlp`` or ``none``), ``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]ENDPOINT``,
``..._PROTOCOL`` (``http/protobuf``, the default, or ``grpc``), ``..._HEADERS``, ``..._TIMEOUT`` (ms),
``..._INSECURE``, ``OTEL_METRIC_EXPORT_INTERVAL`` (ms), ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote

import structlog
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from voiceguard.config import ConfigError

log = structlog.get_logger("voiceguard.telemetry")

Signal = Literal["traces", "metrics"]
DropCounter = Callable[[int, str], None]
"""Called with (number of spans, reason) when spans are dropped."""

DEFAULT_TIMEOUT_S: Final = 10.0
PROTOCOLS: Final = ("http/protobuf", "grpc")


class ExportConfigError(ConfigError):
    """An ``OTEL_*`` variable holds a value voiceguard cannot use; the message names it."""


@dataclass(frozen=True, slots=True)
class OtlpTarget:
    """Where and how one signal is exported over OTLP."""

    signal: Signal
    endpoint: str
    protocol: str
    headers: dict[str, str]
    timeout_s: float
    insecure: bool | None


def _env(env: Mapping[str, str], signal: Signal, suffix: str) -> str | None:
    value = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}") or env.get(
        f"OTEL_EXPORTER_OTLP_{suffix}"
    )
    return value.strip() if value and value.strip() else None


def sdk_disabled(env: Mapping[str, str]) -> bool:
    return env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _parse_headers(raw: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in (raw or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


def otlp_target(env: Mapping[str, str], signal: Signal) -> OtlpTarget | None:
    """The OTLP target for ``signal`` from the environment, or ``None`` when OTLP export is not wanted."""
    if sdk_disabled(env):
        return None
    exporters = env.get(f"OTEL_{signal.upper()}_EXPORTER", "otlp").replace(" ", "").split(",")
    if "otlp" not in exporters:
        return None
    specific = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not specific and not base:
        return None
    protocol = _env(env, signal, "PROTOCOL") or "http/protobuf"
    if protocol not in PROTOCOLS:
        raise ExportConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use one of {', '.join(PROTOCOLS)}"
        )
    if specific:
        endpoint = specific
    elif protocol == "grpc":
        endpoint = base
    else:
        endpoint = base.rstrip("/") + f"/v1/{signal}"
    raw_timeout = _env(env, signal, "TIMEOUT")
    try:
        timeout_s = float(raw_timeout) / 1000 if raw_timeout else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ExportConfigError(
            f"OTEL_EXPORTER_OTLP_TIMEOUT must be milliseconds, got {raw_timeout!r}"
        ) from None
    insecure_raw = _env(env, signal, "INSECURE")
    insecure = None if insecure_raw is None else insecure_raw.lower() == "true"
    return OtlpTarget(
        signal, endpoint, protocol, _parse_headers(_env(env, signal, "HEADERS")), timeout_s, insecure
    )


def _options(target: OtlpTarget) -> dict[str, Any]:
    """Exporter arguments; the gRPC exporters also take ``insecure`` (plain-text HTTP/2)."""
    options: dict[str, Any] = {
        "endpoint": target.endpoint,
        "headers": target.headers,
        "timeout": target.timeout_s,
    }
    if target.protocol == "grpc":
        options["insecure"] = target.insecure
    return options


def span_exporter(target: OtlpTarget) -> SpanExporter:
    # Imported on use: each protocol's exporter pulls in its own stack (grpcio, requests).
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

        return Grpc(**_options(target))
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    return Http(**_options(target))


def metric_exporter(target: OtlpTarget) -> MetricExporter:
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Grpc

        return Grpc(**_options(target))
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Http

    return Http(**_options(target))


def metric_readers(env: Mapping[str, str]) -> list[MetricReader]:
    """The OTLP metric reader, when the environment asks for one (the Prometheus one is always there)."""
    target = otlp_target(env, "metrics")
    if target is None:
        return []
    interval = env.get("OTEL_METRIC_EXPORT_INTERVAL", "").strip()
    try:
        interval_ms = float(interval) if interval else 15_000.0
    except ValueError:
        raise ExportConfigError(
            f"OTEL_METRIC_EXPORT_INTERVAL must be milliseconds, got {interval!r}"
        ) from None
    return [
        PeriodicExportingMetricReader(
            metric_exporter(target),
            export_interval_millis=interval_ms,
            export_timeout_millis=target.timeout_s * 1000,
        )
    ]


def build_resource(version: str, env: Mapping[str, str]) -> Resource:
    """Resource attributes from ``OTEL_RESOURCE_ATTRIBUTES``/``OTEL_SERVICE_NAME``, service name defaulted."""
    attributes: dict[str, str] = {"service.version": version}
    named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not named:
        attributes["service.name"] = "voiceguard"
    return Resource.create(attributes)


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a file, one JSON object per line, so a local run shows where its trace is.

    Stops writing (and reports the spans as failed, hence counted as dropped) once the file reaches
    ``max_bytes``, so a forgotten setting cannot fill a disk.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(span.to_json(indent=None) + "\n" for span in spans)
        try:
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(lines) > self.max_bytes:
                return SpanExportResult.FAILURE
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class BoundedSpanProcessor(SpanProcessor):
    """Batches finished spans to an exporter from a worker thread; drops (and counts) when the queue is full.

    ``on_end`` is an append to a bounded deque: it never waits on the exporter, whatever the collector does.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        on_drop: DropCounter,
        *,
        max_queue: int,
        batch_size: int,
        delay_s: float,
        name: str = "otlp",
    ) -> None:
        self.exporter = exporter
        self.name = name
        self._on_drop = on_drop
        self._queue: deque[ReadableSpan] = deque()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._delay_s = delay_s
        self._wake = threading.Event()
        self._export_lock = threading.Lock()
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name=f"voiceguard-spans-{name}", daemon=True)
        self._worker.start()

    def on_start(self, span: object, parent_context: object = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if self._stopping:
            self._on_drop(1, "shutdown")
            return
        if len(self._queue) >= self._max_queue:
            self._on_drop(1, "queue_full")
            return
        self._queue.append(span)
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self._delay_s)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        with self._export_lock:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
                try:
                    result = self.exporter.export(batch)
                except Exception:
                    log.warning("span_export_failed", exporter=self.name, exc_info=True)
                    result = SpanExportResult.FAILURE
                if result is not SpanExportResult.SUCCESS:
                    self._on_drop(len(batch), "export_failed")

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export what is queued now; waits at most ``timeout_millis`` (a stalled collector may hold it)."""
        done = threading.Event()

        def flush() -> None:
            self._drain()
            done.set()

        threading.Thread(target=flush, daemon=True).start()
        return done.wait(timeout_millis / 1000)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush within ``timeout_s``; whatever a stalled collector still holds up is counted as dropped."""
        self._stopping = True
        self._wake.set()
        self._worker.join(timeout_s)
        finished = threading.Event()

        def final() -> None:
            self._drain()
            self.exporter.shutdown()
            finished.set()

        threading.Thread(target=final, daemon=True).start()
        if not finished.wait(timeout_s):
            left = len(self._queue)
            self._queue.clear()
            if left:
                self._on_drop(left, "shutdown")
            log.warning("span_export_shutdown_timed_out", exporter=self.name)


def run_bounded(work: Callable[[], object], timeout_s: float, what: str) -> bool:
    """Run blocking shutdown work in a daemon thread and wait at most ``timeout_s`` for it."""
    done = threading.Event()

    def target() -> None:
        try:
            work()
        except Exception:
            log.warning("telemetry_shutdown_failed", what=what, exc_info=True)
        finally:
            done.set()

    threading.Thread(target=target, name=f"voiceguard-shutdown-{what}", daemon=True).start()
    finished = done.wait(timeout_s)
    if not finished:
        log.warning("telemetry_shutdown_timed_out", what=what, timeout_s=timeout_s)
    return finished
