"""OpenTelemetry metrics, readable as Prometheus text on ``/_voiceguard/metrics``.

Each process gets its own ``MeterProvider`` and Prometheus registry (no globals), so several proxies can run
in one test process. Labels are low-cardinality only: route, transport, status class, outcome — never a call
id, which would explode the series count and flatten every panel.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest

from voiceguard.events import WireAnomaly
from voiceguard.records import CallEnded, CallStarted, EventObserved, ExchangeFinished, Record
from voiceguard.telemetry import names

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
OVERHEAD_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1)


def _status_class(status: int | None) -> str:
    return f"{status // 100}xx" if status else "none"


class Metrics:
    """The meter provider of one proxy process and the Prometheus view of it."""

    def __init__(self, resource: Resource, extra_readers: Sequence[MetricReader] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reader = PrometheusMetricReader(registry=self.registry)
        self.provider = MeterProvider(resource=resource, metric_readers=[reader, *extra_readers])
        self.meter = self.provider.get_meter("voiceguard")

    def prometheus_text(self) -> bytes:
        return generate_latest(self.registry)

    def shutdown(self) -> None:
        self.provider.shutdown()


class MetricsSink:
    """Turns proxy records into request, latency and error metrics."""

    name = "metrics"

    def __init__(self, metrics: Metrics) -> None:
        meter = metrics.meter
        self._requests = meter.create_counter(names.REQUESTS, unit="{exchange}")
        self._duration = meter.create_histogram(
            names.REQUEST_DURATION, unit="s", explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S
        )
        self._ttfb = meter.create_histogram(
            names.UPSTREAM_TTFB, unit="s", explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S
        )
        self._overhead = meter.create_histogram(
            names.PROXY_OVERHEAD, unit="s", explicit_bucket_boundaries_advisory=OVERHEAD_BUCKETS_S
        )
        self._active_calls = meter.create_up_down_counter(names.ACTIVE_CALLS, unit="{call}")
        self._upstream_errors = meter.create_counter(names.UPSTREAM_ERRORS, unit="{error}")
        self._ws_messages = meter.create_counter(names.WS_MESSAGES, unit="{message}")
        self._anomalies = meter.create_counter(names.WIRE_ANOMALIES, unit="{message}")

    def handle(self, record: Record) -> None:
        if isinstance(record, ExchangeFinished):
            self._exchange_finished(record)
        elif isinstance(record, CallStarted):
            self._active_calls.add(1)
        elif isinstance(record, CallEnded):
            self._active_calls.add(-1)
        elif isinstance(record, EventObserved) and isinstance(record.event, WireAnomaly):
            self._anomalies.add(
                1, {names.ATTR_ROUTE: record.exchange.route, names.ATTR_ANOMALY_KIND: record.event.kind}
            )

    def _exchange_finished(self, record: ExchangeFinished) -> None:
        exchange = record.exchange
        attributes = {
            names.ATTR_ROUTE: exchange.route,
            names.ATTR_TRANSPORT: exchange.transport,
            names.ATTR_OPERATION: exchange.info.operation,
        }
        self._requests.add(
            1,
            {
                **attributes,
                names.ATTR_STATUS_CLASS: _status_class(exchange.status),
                names.ATTR_OUTCOME: exchange.outcome,
            },
        )
        finished = exchange.finished_ns or exchange.started_ns
        self._duration.record((finished - exchange.started_ns) / 1e9, attributes)
        if exchange.first_byte_ns and exchange.request_sent_ns:
            self._ttfb.record((exchange.first_byte_ns - exchange.request_sent_ns) / 1e9, attributes)
        self._overhead.record(exchange.proxy_ns / 1e9, attributes)
        if exchange.error_type is not None:
            self._upstream_errors.add(
                1, {names.ATTR_ROUTE: exchange.route, names.ATTR_ERROR_TYPE: exchange.error_type}
            )
        if exchange.transport == "websocket":
            route = {names.ATTR_ROUTE: exchange.route}
            self._ws_messages.add(
                exchange.messages_from_client, {**route, names.ATTR_DIRECTION: "to_upstream"}
            )
            self._ws_messages.add(exchange.messages_to_client, {**route, names.ATTR_DIRECTION: "to_client"})
