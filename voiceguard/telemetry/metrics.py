"""OpenTelemetry metrics, readable as Prometheus text on ``/_voiceguard/metrics``.

Each process gets its own ``MeterProvider`` and Prometheus registry (no globals), so several proxies can run
in one test process. Labels are low-cardinality only: route, transport, status class, outcome — never a call
id, which would explode the series count and flatten every panel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client import CollectorRegistry, generate_latest

from voiceguard.events import AudioChunk, WireAnomaly
from voiceguard.records import CallEnded, CallStarted, EventObserved, ExchangeFinished, Record
from voiceguard.telemetry import names
from voiceguard.telemetry.aggregate import Aggregates

METER_NAME = "voiceguard"
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
MAX_AUDIO_SERIES = 256
"""Encodings come from the wire: past this many (route, direction, encoding) series, audio is not counted."""
OVERHEAD_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1)


def _status_class(status: int | None) -> str:
    return f"{status // 100}xx" if status else "none"


class Metrics:
    """The meter provider of one proxy process and the Prometheus view of it."""

    def __init__(self, resource: Resource, extra_readers: Sequence[MetricReader] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reader = PrometheusMetricReader(registry=self.registry)
        readers = [reader, *extra_readers]
        self.provider = MeterProvider(resource=resource, metric_readers=readers)
        self.meter = self.provider.get_meter(METER_NAME)
        self.aggregates = Aggregates(InstrumentationScope(METER_NAME), resource)
        """Where the per-request instruments live (see ``aggregate``): what the SDK would cost per point."""
        for each in readers:
            self.aggregates.hook(each)

    def prometheus_text(self) -> bytes:
        return generate_latest(self.registry)

    def shutdown(self) -> None:
        self.provider.shutdown()


class MetricsSink:
    """Turns proxy records into request, latency and error metrics."""

    name = "metrics"

    def __init__(self, metrics: Metrics) -> None:
        meter = metrics.meter
        aggregates = metrics.aggregates
        self._requests = aggregates.counter(names.REQUESTS, "{exchange}")
        self._duration = aggregates.histogram(names.REQUEST_DURATION, "s", LATENCY_BUCKETS_S)
        self._ttfb = aggregates.histogram(names.UPSTREAM_TTFB, "s", LATENCY_BUCKETS_S)
        self._overhead = aggregates.histogram(names.PROXY_OVERHEAD, "s", OVERHEAD_BUCKETS_S)
        self._active_calls = aggregates.up_down_counter(names.ACTIVE_CALLS, "{call}")
        self._upstream_errors = aggregates.counter(names.UPSTREAM_ERRORS, "{error}")
        self._ws_messages = aggregates.counter(names.WS_MESSAGES, "{message}")
        self._anomalies = aggregates.counter(names.WIRE_ANOMALIES, "{message}")
        self._audio_seconds: dict[tuple[str, str, str], float] = {}
        meter.create_observable_counter(names.AUDIO_DURATION, callbacks=[self._observe_audio], unit="s")

    def handle(self, record: Record) -> None:
        if isinstance(record, EventObserved):
            event = record.event
            if isinstance(event, AudioChunk):
                self._audio_chunk(record.exchange.route, event)
            elif isinstance(event, WireAnomaly):
                self._anomalies.add(
                    1, ((names.ATTR_ROUTE, record.exchange.route), (names.ATTR_ANOMALY_KIND, event.kind))
                )
        elif isinstance(record, ExchangeFinished):
            self._exchange_finished(record)
        elif isinstance(record, CallStarted):
            self._active_calls.add(1)
        elif isinstance(record, CallEnded):
            self._active_calls.add(-1)

    def _audio_chunk(self, route: str, chunk: AudioChunk) -> None:
        """Called for every realtime audio frame, so it only adds to a total; the counter reads the
        totals when it is collected (an OpenTelemetry ``add`` costs tens of microseconds per call)."""
        if not chunk.seconds:
            return
        key = (route, chunk.direction.value, chunk.encoding or "unknown")
        total = self._audio_seconds.get(key)
        if total is None and len(self._audio_seconds) >= MAX_AUDIO_SERIES:
            return
        self._audio_seconds[key] = (total or 0.0) + chunk.seconds

    def _observe_audio(self, options: CallbackOptions) -> Iterable[Observation]:
        for (route, direction, encoding), seconds in list(self._audio_seconds.items()):
            attributes = {
                names.ATTR_ROUTE: route,
                names.ATTR_DIRECTION: direction,
                names.ATTR_AUDIO_ENCODING: encoding,
            }
            yield Observation(seconds, attributes)

    def _exchange_finished(self, record: ExchangeFinished) -> None:
        exchange = record.exchange
        route = (names.ATTR_ROUTE, exchange.route)
        labels = (
            route,
            (names.ATTR_TRANSPORT, exchange.transport),
            (names.ATTR_OPERATION, exchange.info.operation),
        )
        self._requests.add(
            1,
            (
                *labels,
                (names.ATTR_STATUS_CLASS, _status_class(exchange.status)),
                (names.ATTR_OUTCOME, exchange.outcome),
            ),
        )
        finished = exchange.finished_ns or exchange.started_ns
        self._duration.record((finished - exchange.started_ns) / 1e9, labels)
        if exchange.first_byte_ns and exchange.request_sent_ns:
            self._ttfb.record((exchange.first_byte_ns - exchange.request_sent_ns) / 1e9, labels)
        self._overhead.record(exchange.proxy_ns / 1e9, labels)
        if exchange.error_type is not None:
            self._upstream_errors.add(1, (route, (names.ATTR_ERROR_TYPE, exchange.error_type)))
        if exchange.transport == "websocket":
            self._ws_messages.add(
                exchange.messages_from_client, (route, (names.ATTR_DIRECTION, "to_upstream"))
            )
            self._ws_messages.add(exchange.messages_to_client, (route, (names.ATTR_DIRECTION, "to_client")))
