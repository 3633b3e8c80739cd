"""Aggregated instruments report exactly what the OpenTelemetry SDK instruments they replace would."""

from __future__ import annotations

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest

from voiceguard.telemetry.metrics import LATENCY_BUCKETS_S, Metrics

RESOURCE = Resource.create({"service.name": "voiceguard-test"})
POINTS = [0.0005, 0.001, 0.0007, 1, 2.5, 0.3, 75.0, 0.0]
ROUTES = ["openai", "deepgram", "openai", "openai", "deepgram", "openai", "openai", "elevenlabs"]


def _sdk_reference() -> str:
    registry = CollectorRegistry(auto_describe=True)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[PrometheusMetricReader(registry=registry)])
    meter = provider.get_meter("voiceguard")
    requests = meter.create_counter("voiceguard.requests", unit="{exchange}")
    active = meter.create_up_down_counter("voiceguard.active_calls", unit="{call}")
    duration = meter.create_histogram(
        "voiceguard.request.duration", unit="s", explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S
    )
    for value, route in zip(POINTS, ROUTES, strict=True):
        requests.add(1, {"route": route, "outcome": "ok"})
        duration.record(value, {"route": route})
        active.add(1)
    active.add(-3)
    text = generate_latest(registry).decode()
    provider.shutdown()
    return text


def _aggregated() -> str:
    metrics = Metrics(RESOURCE)
    requests = metrics.aggregates.counter("voiceguard.requests", "{exchange}")
    active = metrics.aggregates.up_down_counter("voiceguard.active_calls", "{call}")
    duration = metrics.aggregates.histogram("voiceguard.request.duration", "s", LATENCY_BUCKETS_S)
    for value, route in zip(POINTS, ROUTES, strict=True):
        requests.add(1, (("route", route), ("outcome", "ok")))
        duration.record(value, (("route", route),))
        active.add(1)
    active.add(-3)
    text = metrics.prometheus_text().decode()
    metrics.shutdown()
    return text


def test_aggregated_instruments_print_the_same_prometheus_text_as_sdk_instruments() -> None:
    assert sorted(_aggregated().splitlines()) == sorted(_sdk_reference().splitlines())


def test_delta_readers_get_the_difference_since_their_previous_collection() -> None:
    delta = InMemoryMetricReader(
        preferred_temporality={
            Counter: AggregationTemporality.DELTA,
            UpDownCounter: AggregationTemporality.DELTA,
            Histogram: AggregationTemporality.DELTA,
        }
    )
    metrics = Metrics(RESOURCE, extra_readers=[delta])
    requests = metrics.aggregates.counter("voiceguard.requests", "{exchange}")
    duration = metrics.aggregates.histogram("voiceguard.request.duration", "s", (1.0, 2.0))
    requests.add(2)
    duration.record(0.5)
    delta.get_metrics_data()
    requests.add(3)
    duration.record(1.5)
    duration.record(3.0)
    data = delta.get_metrics_data()
    assert data is not None
    points = {
        metric.name: (metric.data.aggregation_temporality, metric.data.data_points[0])  # type: ignore[union-attr]
        for metric in data.resource_metrics[0].scope_metrics[0].metrics
    }
    temporality, counted = points["voiceguard.requests"]
    assert temporality is AggregationTemporality.DELTA
    assert isinstance(counted, NumberDataPoint) and counted.value == 3
    temporality, histogram = points["voiceguard.request.duration"]
    assert isinstance(histogram, HistogramDataPoint)
    assert (histogram.count, histogram.sum, tuple(histogram.bucket_counts)) == (2, 4.5, (0, 1, 1))
    metrics.shutdown()


def test_a_point_recorded_for_a_sampled_span_carries_it_as_an_exemplar_once() -> None:
    reader = InMemoryMetricReader()
    metrics = Metrics(RESOURCE, extra_readers=[reader])
    turn = metrics.aggregates.histogram("voiceguard.turn.voice_to_voice", "s", LATENCY_BUCKETS_S)
    turn.record(0.8, (("turn.mode", "cascaded"),), (0xABC, 0x123))
    turn.record(0.9, (("turn.mode", "cascaded"),))
    first = reader.get_metrics_data()
    second = reader.get_metrics_data()
    assert first is not None and second is not None

    def exemplars(data: object) -> list[tuple[float, int, int]]:
        point = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points[0]  # type: ignore[attr-defined]
        return [(e.value, e.trace_id, e.span_id) for e in point.exemplars]

    assert exemplars(first) == [(0.8, 0xABC, 0x123)]
    assert exemplars(second) == []
    metrics.shutdown()
