"""The tracer provider of one proxy process: its exporters, its bounded queues, its preset span ids.

Each proxy builds its own provider (never the global one), so several proxies can run in one process and
tests read spans from an in-memory exporter of their own. Span ids are preset per span (see ``ids``): the
SDK asks its id generator for an id when a span starts, and this generator hands out the one the sink chose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from opentelemetry.metrics import Meter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import Tracer

from voiceguard.config import TelemetryConfig
from voiceguard.telemetry import names
from voiceguard.telemetry.export import (
    BoundedSpanProcessor,
    DropCounter,
    JsonLinesSpanExporter,
    otlp_target,
    run_bounded,
    sdk_disabled,
    span_exporter,
)


class PresetIdGenerator(IdGenerator):
    """Returns the ids set with ``preset`` for the next span, random ones otherwise."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self._trace_id: int | None = None
        self._span_id: int | None = None

    def preset(self, trace_id: int | None, span_id: int | None) -> None:
        self._trace_id, self._span_id = trace_id, span_id

    def generate_span_id(self) -> int:
        span_id, self._span_id = self._span_id, None
        return span_id or self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        trace_id, self._trace_id = self._trace_id, None
        return trace_id or self._random.generate_trace_id()


@dataclass(slots=True)
class Tracing:
    """A tracer provider and the processors feeding its exporters."""

    provider: TracerProvider
    ids: PresetIdGenerator
    processors: list[BoundedSpanProcessor] = field(default_factory=list)
    shutdown_timeout_s: float = 5.0

    @property
    def tracer(self) -> Tracer:
        return self.provider.get_tracer(names.TRACER_NAME)

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        return all(processor.force_flush(int(timeout_s * 1000)) for processor in self.processors)

    def shutdown(self) -> None:
        """Flush and stop, bounded: a collector that never answers costs at most the shutdown timeout."""
        for processor in self.processors:
            processor.shutdown(self.shutdown_timeout_s)
        run_bounded(self.provider.shutdown, self.shutdown_timeout_s, "tracer-provider")


def _drop_counter(meter: Meter) -> DropCounter:
    dropped = meter.create_counter(names.METRIC_TELEMETRY_DROPPED, unit="{span}")

    def count(spans: int, reason: str) -> None:
        dropped.add(spans, {names.ATTR_SIGNAL: "traces", names.ATTR_REASON: reason})

    return count


def build_tracing(
    config: TelemetryConfig,
    env: Mapping[str, str],
    resource: Resource,
    meter: Meter,
    extra_exporters: Sequence[SpanExporter] = (),
) -> Tracing | None:
    """The tracing of one proxy, or ``None`` when there is nowhere to send spans (no cost on the hot path)."""
    if not config.tracing:
        return None
    exporters: list[tuple[str, SpanExporter]] = [("extra", exporter) for exporter in extra_exporters]
    if not sdk_disabled(env):
        target = otlp_target(env, "traces")
        if target is not None:
            exporters.append((f"otlp-{target.protocol}", span_exporter(target)))
        if config.trace_file is not None:
            exporters.append(("file", JsonLinesSpanExporter(config.trace_file, config.trace_file_max_bytes)))
    if not exporters:
        return None
    ids = PresetIdGenerator()
    provider = TracerProvider(resource=resource, id_generator=ids, shutdown_on_exit=False)
    on_drop = _drop_counter(meter)
    tracing = Tracing(provider, ids, shutdown_timeout_s=config.shutdown_timeout_s)
    for name, exporter in exporters:
        processor = BoundedSpanProcessor(
            exporter,
            on_drop,
            max_queue=config.span_queue_size,
            batch_size=config.span_batch_size,
            delay_s=config.span_export_delay_s,
            name=name,
        )
        provider.add_span_processor(processor)
        tracing.processors.append(processor)
    return tracing
