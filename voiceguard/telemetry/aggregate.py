"""Counters and histograms aggregated in plain Python, handed to the OpenTelemetry readers when they collect.

Why: recording one point through the SDK (``Counter.add``, ``Histogram.record``) copies and hashes the
attribute dict, takes locks and aggregates once per reader (Prometheus and OTLP: twice), tens of microseconds
each; a request records a dozen. Here a point is a dict lookup by an attribute tuple and a few additions
under one lock, and the SDK never sees individual points: each reader's collect callback is wrapped so that
the points of these instruments are added, as the SDK's own ``Sum`` and ``Histogram`` data, to the
``voiceguard`` scope of what it collected. Prometheus text and OTLP export therefore carry the same metric
names, units, labels, buckets and exemplars as before.

Semantics kept from the SDK: explicit-bucket boundaries with ``bisect_left`` (a value equal to a boundary
falls in that bucket), min/max/sum/count per series, at most ``CARDINALITY_LIMIT`` series per instrument
(later ones go to the ``otel.metric.overflow`` series), one exemplar per bucket (the last point recorded with
a sampled span context, cleared when collected). Cumulative temporality is what both readers use by default;
a reader that prefers delta gets differences since its previous collection (count, sum and buckets; min and
max stay cumulative, the one thing not kept).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any, Final

from opentelemetry.sdk.metrics import Counter, Histogram, UpDownCounter
from opentelemetry.sdk.metrics._internal import instrument as sdk_instrument
from opentelemetry.sdk.metrics._internal.exemplar import Exemplar
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.metrics.export import Sum as SumData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.util.types import AttributeValue

Labels = tuple[tuple[str, str], ...]
"""A series' attributes as ``((key, value), ...)`` in a fixed order: hashable without copying a dict."""
ExemplarLink = tuple[int, int]
"""(trace id, span id) of the sampled span a point was recorded in."""

CARDINALITY_LIMIT: Final = 2000
OVERFLOW: Final[Labels] = (("otel.metric.overflow", "true"),)
_OVERFLOW_ATTRIBUTES: Final[dict[str, AttributeValue]] = {"otel.metric.overflow": True}


def _attributes(labels: Labels) -> dict[str, AttributeValue]:
    return dict(_OVERFLOW_ATTRIBUTES) if labels is OVERFLOW else dict(labels)


class _Instrument:
    __slots__ = ("_lock", "name", "unit")

    def __init__(self, name: str, unit: str) -> None:
        self.name = name
        self.unit = unit
        self._lock = threading.Lock()

    def _key(self, labels: Labels, series: dict[Labels, object]) -> Labels:
        return OVERFLOW if len(series) >= CARDINALITY_LIMIT - 1 else labels


class SumInstrument(_Instrument):
    """A counter (monotonic) or up-down counter: one running total per series."""

    __slots__ = ("_started", "_totals", "monotonic")

    def __init__(self, name: str, unit: str, *, monotonic: bool = True) -> None:
        super().__init__(name, unit)
        self.monotonic = monotonic
        self._totals: dict[Labels, int | float] = {}
        self._started: dict[Labels, int] = {}

    def add(self, value: int | float, labels: Labels = ()) -> None:
        if self.monotonic and value < 0:
            return  # the SDK drops negative increments of a counter too
        with self._lock:
            total = self._totals.get(labels)
            if total is None:
                labels = self._key(labels, self._totals)  # type: ignore[arg-type]
                total = self._totals.get(labels)
                if total is None:
                    self._started[labels] = time.time_ns()
                    total = 0
            self._totals[labels] = total + value

    def snapshot(self) -> list[tuple[Labels, int, int | float]]:
        """(labels, start time, cumulative total) of every series."""
        with self._lock:
            return [(labels, self._started[labels], total) for labels, total in self._totals.items()]


class _Series:
    __slots__ = ("buckets", "count", "exemplars", "max", "min", "started", "sum")

    def __init__(self, buckets: int) -> None:
        self.buckets = [0] * buckets
        self.count = 0
        self.sum: int | float = 0
        self.min = float("inf")
        self.max = float("-inf")
        self.started = time.time_ns()
        self.exemplars: dict[int, tuple[int | float, int, ExemplarLink]] | None = None


class HistogramInstrument(_Instrument):
    """An explicit-bucket histogram: bucket counts, sum, count, min and max per series."""

    __slots__ = ("_series", "bounds")

    def __init__(self, name: str, unit: str, bounds: Sequence[float]) -> None:
        super().__init__(name, unit)
        self.bounds = tuple(bounds)  # as given, like the SDK: an int bound prints as one
        self._series: dict[Labels, _Series] = {}

    def record(self, value: int | float, labels: Labels = (), exemplar: ExemplarLink | None = None) -> None:
        bucket = bisect_left(self.bounds, value)
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                labels = self._key(labels, self._series)  # type: ignore[arg-type]
                series = self._series.get(labels)
                if series is None:
                    series = self._series[labels] = _Series(len(self.bounds) + 1)
            series.buckets[bucket] += 1
            series.count += 1
            series.sum += value
            if value < series.min:
                series.min = value
            if value > series.max:
                series.max = value
            if exemplar is not None:
                if series.exemplars is None:
                    series.exemplars = {}
                series.exemplars[bucket] = (value, time.time_ns(), exemplar)

    def snapshot(self) -> list[tuple[Labels, _Series, list[Exemplar]]]:
        """A copy of every series (exemplars are handed out once, as the SDK's reservoir does)."""
        out: list[tuple[Labels, _Series, list[Exemplar]]] = []
        with self._lock:
            for labels, series in self._series.items():
                copy = _Series(0)
                copy.buckets = list(series.buckets)
                copy.count, copy.sum, copy.min, copy.max = series.count, series.sum, series.min, series.max
                copy.started = series.started
                exemplars: list[Exemplar] = []
                if series.exemplars:
                    for bucket in sorted(series.exemplars):
                        value, at_ns, (trace_id, span_id) = series.exemplars[bucket]
                        exemplars.append(Exemplar({}, value, at_ns, span_id, trace_id))
                    series.exemplars = None
                out.append((labels, copy, exemplars))
        return out


_SDK_CLASS: Final = {True: Counter, False: UpDownCounter}
_SDK_INTERNAL: Final[dict[type, type]] = {
    Counter: sdk_instrument._Counter,
    UpDownCounter: sdk_instrument._UpDownCounter,
    Histogram: sdk_instrument._Histogram,
}


def _is_delta(reader: MetricReader, instrument: type) -> bool:
    """The reader's preferred temporality for an SDK instrument class (its table is keyed by the SDK's
    internal classes)."""
    table: dict[type, AggregationTemporality] = reader._instrument_class_temporality  # type: ignore[assignment]
    preferred = table.get(_SDK_INTERNAL[instrument]) or table.get(instrument)
    return preferred is AggregationTemporality.DELTA


class Aggregates:
    """The aggregated instruments of one meter provider, and the collect hook that reports them."""

    def __init__(self, scope: InstrumentationScope, resource: Resource) -> None:
        self._scope = scope
        self._resource = resource
        self._sums: dict[str, SumInstrument] = {}
        self._histograms: dict[str, HistogramInstrument] = {}
        self._previous: dict[int, dict[tuple[str, Labels], tuple[int | float, ...]]] = {}
        self._collected_at: dict[int, int] = {}

    def counter(self, name: str, unit: str) -> SumInstrument:
        return self._sums.setdefault(name, SumInstrument(name, unit))

    def up_down_counter(self, name: str, unit: str) -> SumInstrument:
        return self._sums.setdefault(name, SumInstrument(name, unit, monotonic=False))

    def histogram(self, name: str, unit: str, bounds: Sequence[float]) -> HistogramInstrument:
        return self._histograms.setdefault(name, HistogramInstrument(name, unit, bounds))

    def hook(self, reader: MetricReader) -> None:
        """Wrap ``reader``'s collect callback (set by the ``MeterProvider`` it is registered with)."""
        collect: Callable[..., MetricsData | None] | None = reader._collect  # type: ignore[assignment]
        if collect is None:
            return

        def collect_with_aggregates(metric_reader: MetricReader, timeout_millis: float = 10_000) -> Any:
            collected = collect(metric_reader, timeout_millis=timeout_millis)
            return self.merge(collected, metric_reader)

        reader._set_collect_callback(collect_with_aggregates)

    def merge(self, collected: MetricsData | None, reader: MetricReader) -> MetricsData | None:
        """``collected`` with these instruments' points added to the ``voiceguard`` scope."""
        metrics = self.metrics(reader)
        if not metrics:
            return collected
        resource_metrics = list(collected.resource_metrics) if collected is not None else []
        if not resource_metrics:
            resource_metrics = [ResourceMetrics(self._resource, [], "")]
        first = resource_metrics[0]
        scopes = list(first.scope_metrics)
        for index, scope_metrics in enumerate(scopes):
            if scope_metrics.scope.name == self._scope.name:
                scopes[index] = ScopeMetrics(
                    scope_metrics.scope, [*scope_metrics.metrics, *metrics], scope_metrics.schema_url
                )
                break
        else:
            scopes.append(ScopeMetrics(self._scope, metrics, self._scope.schema_url or ""))
        resource_metrics[0] = ResourceMetrics(first.resource, scopes, first.schema_url)
        return MetricsData(resource_metrics)

    def metrics(self, reader: MetricReader) -> list[Metric]:
        now = time.time_ns()
        key = id(reader)
        delta_sums = {monotonic: _is_delta(reader, cls) for monotonic, cls in _SDK_CLASS.items()}
        delta_histograms = _is_delta(reader, Histogram)
        previous = self._previous.setdefault(key, {})
        since = self._collected_at.get(key)
        self._collected_at[key] = now
        out: list[Metric] = []
        for instrument in self._sums.values():
            delta = delta_sums[instrument.monotonic]
            points: list[NumberDataPoint] = []
            for labels, started, total in instrument.snapshot():
                value = total
                start = started
                if delta:
                    before_total = previous.get((instrument.name, labels), (0,))[0]
                    previous[(instrument.name, labels)] = (total,)
                    value = total - before_total
                    start = since if since is not None and since > started else started
                points.append(NumberDataPoint(_attributes(labels), start, now, value))
            if points:
                temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
                data = SumData(points, temporality, instrument.monotonic)
                out.append(Metric(instrument.name, "", instrument.unit, data))
        for histogram in self._histograms.values():
            histogram_points: list[HistogramDataPoint] = []
            for labels, series, exemplars in histogram.snapshot():
                buckets: Sequence[int] = series.buckets
                count, total_sum, start = series.count, series.sum, series.started
                if delta_histograms:
                    before = previous.get((histogram.name, labels))
                    previous[(histogram.name, labels)] = (count, total_sum, *buckets)
                    if before is not None:
                        count -= int(before[0])
                        total_sum -= before[1]
                        buckets = [int(b - a) for b, a in zip(buckets, before[2:], strict=True)]
                    start = since if since is not None and since > start else start
                histogram_points.append(
                    HistogramDataPoint(
                        _attributes(labels),
                        start,
                        now,
                        count,
                        total_sum,
                        tuple(buckets),
                        histogram.bounds,
                        series.min,
                        series.max,
                        exemplars,
                    )
                )
            if histogram_points:
                temporality = (
                    AggregationTemporality.DELTA if delta_histograms else AggregationTemporality.CUMULATIVE
                )
                out.append(
                    Metric(histogram.name, "", histogram.unit, HistogramData(histogram_points, temporality))
                )
        return out
