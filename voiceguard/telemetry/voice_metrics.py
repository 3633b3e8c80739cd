"""Voice metrics: per-turn latency and its breakdown, GenAI client metrics, policy decisions, PII, cost.

Turn histograms are recorded when a turn closes (not at hang-up), with the turn's span as the exemplar, so
an OTLP pipeline that keeps exemplars links a latency point to its trace. Points are aggregated in process
(``aggregate``), not recorded through the SDK one by one. Labels stay low-cardinality: stage,
provider, route, turn mode and model, where model names (which clients choose) are capped to the first
``MAX_MODELS`` seen and reported as ``other`` after that. Never a call id.

PII entities are counted from the decisions of the PII guard, which say ``control=pii`` in their evidence
whichever pack rule they are filed under, and from any decision whose ``rule_id`` is ``pii`` or starts with
``pii.``/``pii-``/``pii_`` (any case): ``counts`` holds ``(entity_type, n)`` pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from voiceguard.config import TelemetryConfig
from voiceguard.events import DECISION_CONTROL, Direction, PolicyDecision, Stage, Usage
from voiceguard.records import (
    CallEnded,
    DecisionMade,
    EventObserved,
    ExchangeFinished,
    ExchangeStarted,
    Record,
    TurnFinished,
)
from voiceguard.session import Call, Exchange
from voiceguard.telemetry import ids, names
from voiceguard.telemetry.aggregate import HistogramInstrument, Labels
from voiceguard.telemetry.cost import PriceTable
from voiceguard.telemetry.deferred import Deferred
from voiceguard.telemetry.metrics import LATENCY_BUCKETS_S, OVERHEAD_BUCKETS_S, Metrics
from voiceguard.telemetry.spans import ExchangeTrace, operation_name, turn_mode
from voiceguard.turns import Turn

GEN_AI_DURATION_BUCKETS_S: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
"""The bucket boundaries the GenAI conventions advise for ``gen_ai.client.operation.duration``."""
TOKEN_BUCKETS: Final = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
MAX_MODELS: Final = 64
PII_RULE_PREFIXES: Final = ("pii.", "pii-", "pii_")
PII_CONTROL: Final = "pii"

_STAGE_OF_BREAKDOWN: Final = {
    "stt_finalization": Stage.STT,
    "llm_time_to_first_token": Stage.LLM,
    "tts_time_to_first_byte": Stage.TTS,
    "realtime_time_to_first_audio": Stage.REALTIME,
}


class _CappedLabels:
    """Remembers the first ``limit`` values of a client-chosen label; later ones become ``other``."""

    def __init__(self, limit: int) -> None:
        self._seen: set[str] = set()
        self._limit = limit

    def __call__(self, value: str | None) -> str:
        if not value:
            return "unknown"
        if value in self._seen:
            return value
        if len(self._seen) < self._limit:
            self._seen.add(value)
            return value
        return "other"


@dataclass(slots=True)
class _StageSource:
    route: str
    provider: str


def is_pii_rule(rule_id: str) -> bool:
    lowered = rule_id.lower()
    return lowered == "pii" or lowered.startswith(PII_RULE_PREFIXES)


def is_pii_decision(decision: PolicyDecision) -> bool:
    """A decision of the PII guard: it says so (``control=pii``), whichever pack rule it is filed under
    (``PCI-3.4.1``, ``HIPAA-SH``), or its rule is named like one (a guard of the operator's own)."""
    return (DECISION_CONTROL, PII_CONTROL) in decision.evidence or is_pii_rule(decision.rule_id)


class VoiceMetricsSink:
    """Records the voice and GenAI metrics of calls, turns and stages."""

    name = "voice-metrics"

    def __init__(self, metrics: Metrics, config: TelemetryConfig) -> None:
        self._model = _CappedLabels(MAX_MODELS)
        self._prices = PriceTable(config.prices)
        self._exchanges: dict[str, ExchangeTrace] = {}
        self._defer = Deferred()

        aggregates = metrics.aggregates

        def latency(name: str) -> HistogramInstrument:
            return aggregates.histogram(name, "s", LATENCY_BUCKETS_S)

        gap = latency(names.METRIC_TURN_GAP)
        self._turn_histograms: dict[str, HistogramInstrument] = {
            key: gap
            if key.startswith("gap_")
            else aggregates.histogram(name, "s", OVERHEAD_BUCKETS_S)
            if key == "proxy_overhead"
            else latency(name)
            for key, name in names.BREAKDOWN_ATTRIBUTES.items()
        }
        self._turns = aggregates.counter(names.METRIC_TURNS, "{turn}")
        self._interruptions = aggregates.counter(names.METRIC_INTERRUPTIONS, "{interruption}")
        self._calls = aggregates.counter(names.METRIC_CALLS, "{call}")
        self._operation_duration = aggregates.histogram(
            names.GEN_AI_CLIENT_OPERATION_DURATION, "s", GEN_AI_DURATION_BUCKETS_S
        )
        self._time_to_first_chunk = aggregates.histogram(
            names.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK, "s", GEN_AI_DURATION_BUCKETS_S
        )
        self._tokens = aggregates.histogram(names.GEN_AI_CLIENT_TOKEN_USAGE, "{token}", TOKEN_BUCKETS)
        self._pii = aggregates.counter(names.METRIC_PII_ENTITIES, "{entity}")
        self._decisions = aggregates.counter(names.METRIC_POLICY_DECISIONS, "{decision}")
        self._cost = aggregates.counter(names.METRIC_COST, "{USD}")
        self._audio = aggregates.counter(names.METRIC_AUDIO, "s")

    def handle(self, record: Record) -> None:
        if isinstance(record, EventObserved):
            self._event(record)
        elif isinstance(record, ExchangeStarted):
            exchange = record.exchange
            self._exchanges[exchange.id] = ExchangeTrace()
            sources = exchange.call.scratch(self, dict)
            sources[exchange.info.stage] = _StageSource(exchange.route, exchange.info.provider)
        elif isinstance(record, ExchangeFinished):
            exchange_trace = self._exchanges.pop(record.exchange.id, None)
            if exchange_trace is not None and record.exchange.info.stage is not Stage.OTHER:
                self._defer(self._exchange_finished, record.exchange, exchange_trace)
        elif isinstance(record, DecisionMade):
            self._defer(self._decision, record.decision)
        elif isinstance(record, TurnFinished):
            self._defer(self._turn_finished, record.call, record.turn)
        elif isinstance(record, CallEnded):
            self._defer(self._calls.add, 1, ())

    def flush(self) -> None:
        """Record what is still deferred (tests, shutdown)."""
        self._defer.drain()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._defer.drain()

    # --- stages ---------------------------------------------------------------------------------------------

    def _labels(self, exchange: Exchange, model: str | None) -> dict[str, str]:
        labels = {
            names.GEN_AI_PROVIDER_NAME: exchange.info.provider,
            names.ATTR_ROUTE: exchange.route,
            names.ATTR_STAGE: exchange.info.stage.value,
            names.GEN_AI_REQUEST_MODEL: self._model(model),
        }
        operation = operation_name(exchange.info)
        if operation:
            labels[names.GEN_AI_OPERATION_NAME] = operation
        return labels

    def _event(self, record: EventObserved) -> None:
        exchange_trace = self._exchanges.get(record.exchange.id)
        if exchange_trace is None:
            return
        exchange_trace.observe(record.event, record.direction is Direction.TO_CLIENT, record.at_ns)
        event = record.event
        if isinstance(event, Usage) and (event.input_tokens or event.output_tokens):
            self._defer(self._record_tokens, record.exchange, event, event.model or exchange_trace.model)

    def _record_tokens(self, exchange: Exchange, usage: Usage, model: str | None) -> None:
        labels = self._labels(exchange, model)
        if usage.input_tokens:
            self._tokens.record(usage.input_tokens, _tuple({**labels, names.GEN_AI_TOKEN_TYPE: "input"}))
        if usage.output_tokens:
            self._tokens.record(usage.output_tokens, _tuple({**labels, names.GEN_AI_TOKEN_TYPE: "output"}))

    def _exchange_finished(self, exchange: Exchange, exchange_trace: ExchangeTrace) -> None:
        labels = self._labels(exchange, exchange_trace.model)
        error = exchange.error_type or exchange_trace.upstream_error
        if exchange.transport == "http" and exchange.request_sent_ns is not None:
            finished = exchange.finished_ns or exchange.request_sent_ns
            duration_labels = {**labels, names.ATTR_ERROR_TYPE: error} if error else labels
            self._operation_duration.record(
                (finished - exchange.request_sent_ns) / 1e9, _tuple(duration_labels)
            )
            if exchange_trace.first_output_ns is not None:
                ttfc = max(0, exchange_trace.first_output_ns - exchange.request_sent_ns) / 1e9
                self._time_to_first_chunk.record(ttfc, _tuple(labels))
        tally = exchange_trace.tally
        if tally.billed_audio_in_s:
            self._audio.add(tally.billed_audio_in_s, _tuple({**labels, names.ATTR_DIRECTION: "to_upstream"}))
        if tally.audio_out_s:
            self._audio.add(tally.audio_out_s, _tuple({**labels, names.ATTR_DIRECTION: "to_client"}))
        cost = self._prices.cost(exchange_trace.model, tally) if tally.seen else None
        if cost:
            self._cost.add(cost, _tuple(labels))

    def _decision(self, decision: PolicyDecision) -> None:
        self._decisions.add(
            1,
            (
                (names.POLICY_RULE, decision.rule_id),
                (names.POLICY_ACTION, decision.action),
                (names.POLICY_OUTCOME, decision.outcome),
            ),
        )
        if is_pii_decision(decision):
            for entity_type, count in decision.counts:
                if count > 0:
                    self._pii.add(
                        count, ((names.PII_ENTITY_TYPE, entity_type), (names.POLICY_ACTION, decision.action))
                    )

    # --- turns ----------------------------------------------------------------------------------------------

    def _turn_finished(self, call: Call, turn: Turn) -> None:
        sources: Mapping[Stage, _StageSource] = call.scratch(self, dict)
        stages = (
            set(sources)
            if "realtime" in turn.models
            else {stage for stage in sources if stage is not Stage.REALTIME}
        )
        mode = turn_mode(turn, stages)
        main_stage = Stage.REALTIME if mode == "realtime" else Stage.LLM
        main = sources.get(main_stage)
        turn_labels = {
            names.TURN_MODE: mode,
            names.GEN_AI_REQUEST_MODEL: self._model(turn.models.get(main_stage.value)),
            names.GEN_AI_PROVIDER_NAME: main.provider if main else "unknown",
        }
        exemplar = (ids.trace_id_for(call), ids.turn_span_id(call, turn.number))
        turn_key = _tuple(turn_labels)
        self._turns.add(1, turn_key)
        if turn.interrupted:
            self._interruptions.add(1, turn_key)
        for key, value in turn.breakdown_ms().items():
            if value is None:
                continue
            labels: dict[str, str] = turn_labels
            stage = _STAGE_OF_BREAKDOWN.get(key)
            if stage is not None:
                source = sources.get(stage)
                labels = {
                    names.ATTR_STAGE: stage.value,
                    names.GEN_AI_PROVIDER_NAME: source.provider if source else "unknown",
                    names.ATTR_ROUTE: source.route if source else "unknown",
                    names.GEN_AI_REQUEST_MODEL: self._model(turn.models.get(stage.value)),
                }
            elif key.startswith("gap_"):
                labels = {**turn_labels, names.ATTR_GAP_KIND: key.removeprefix("gap_")}
            key_labels = turn_key if labels is turn_labels else _tuple(labels)
            self._turn_histograms[key].record(value / 1000, key_labels, exemplar)


def _tuple(labels: dict[str, str]) -> Labels:
    return tuple(labels.items())
