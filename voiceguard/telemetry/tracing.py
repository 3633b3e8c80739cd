"""The tracing sink: one trace per call, a span per turn, a span per stage, guard decisions as span events.

```
voice.call                      SERVER   (started at CallStarted, ended at CallEnded)
├─ voice.turn                   INTERNAL (written when the turn closes, so long calls show up live)
│  ├─ stt / chat {model} / tts  CLIENT   (one per HTTP exchange of the turn; decisions as events)
│  └─ realtime.response {model} CLIENT   (per turn of a long-lived socket: realtime, streaming STT/TTS)
└─ voice.connection             CLIENT   (a WebSocket of the call, from upgrade to close)
```

Spans are written with the timestamps voiceguard stamped on the records, after the fact, so a stage span
can be parented to a turn that is still open: its span id is derived (``ids``), not remembered. The upstream
request carries the ``traceparent`` of its stage span, so a backend that traces joins the same trace. The
sink runs on the request path and only builds spans; exporting happens in the processors' threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from yarl import URL

from voiceguard.config import Settings, TelemetryConfig
from voiceguard.events import AudioChunk, Direction, PolicyDecision, Stage
from voiceguard.records import (
    CallEnded,
    CallStarted,
    DecisionMade,
    EventObserved,
    ExchangeFinished,
    ExchangeStarted,
    Record,
    TurnFinished,
)
from voiceguard.redaction import RecordRedactor
from voiceguard.session import Call, Exchange
from voiceguard.telemetry import ids, names
from voiceguard.telemetry.cost import PriceTable, UsageTally
from voiceguard.telemetry.deferred import Deferred
from voiceguard.telemetry.provider import Tracing
from voiceguard.telemetry.spans import (
    Attributes,
    Content,
    ExchangeTrace,
    decision_attributes,
    exchange_attributes,
    operation_name,
    put,
    stage_span_name,
    stage_window,
    turn_attributes,
    turn_mode,
    usage_attributes,
)
from voiceguard.telemetry.trace_state import (
    MAX_CONNECTIONS_PER_CALL,
    SAMPLED,
    CallTrace,
    Connection,
    SpanSpec,
    TurnExtras,
)
from voiceguard.turns import Turn

_UNSET: Final = Status(StatusCode.UNSET)
MAX_AUDIO_COSTS: Final = 1024
"""Distinct (model, audio chunk) prices kept; realtime adapters make a handful of chunk sizes per call."""


def upstream_hosts(settings: Settings) -> dict[str, str]:
    """Route name → upstream host, for ``server.address`` on stage spans."""
    return {name: URL(route.upstream).host or "" for name, route in settings.routes.items()}


class TracingSink:
    """Builds the spans of every call from the proxy's records."""

    name = "tracing"

    def __init__(
        self,
        tracing: Tracing,
        config: TelemetryConfig,
        redactor: RecordRedactor,
        *,
        servers: Mapping[str, str] | None = None,
        subject_hash: Callable[[str], str] | None = None,
    ) -> None:
        self.tracing = tracing
        tracer = tracing.tracer
        self._scope: InstrumentationScope = getattr(
            tracer, "_instrumentation_scope", InstrumentationScope(names.TRACER_NAME)
        )
        self._resource = tracing.provider.resource
        self._sampler = tracing.provider.sampler
        self._processor: SpanProcessor = tracing.provider._active_span_processor
        self._capture = config.capture_content
        self._content_budget = config.max_content_chars
        self._redactor = redactor
        self._prices = PriceTable(config.prices)
        self._servers = dict(servers or {})
        self._subject_hash = subject_hash
        self._exchanges: dict[str, ExchangeTrace] = {}
        self._defer = Deferred()
        self._audio_costs: dict[tuple[str | None, AudioChunk], float | None] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        """Flush and stop the exporters off the event loop, bounded by ``telemetry.shutdown_timeout_s``."""
        self._defer.drain()
        await asyncio.get_running_loop().run_in_executor(None, self.tracing.shutdown)

    def handle(self, record: Record) -> None:
        if isinstance(record, EventObserved):
            self._event(record)
        elif isinstance(record, ExchangeStarted):
            self._exchange_started(record.exchange)
        elif isinstance(record, ExchangeFinished):
            self._exchange_finished(record.exchange)
        elif isinstance(record, DecisionMade):
            self._decision(record)
        elif isinstance(record, TurnFinished):
            self._turn_finished(record.call, record.turn)
        elif isinstance(record, CallStarted):
            self._call(record.call, record.at_ns)
        elif isinstance(record, CallEnded):
            self._call_ended(record.call, record.at_ns)

    # --- calls ----------------------------------------------------------------------------------------------

    def _call(self, call: Call, at_ns: int | None = None) -> CallTrace:
        return call.scratch(self, lambda: self._start_call(call, at_ns or call.started_ns))

    def _start_call(self, call: Call, at_ns: int) -> CallTrace:
        trace_id = ids.trace_id_for(call)
        parent = ids.remote_parent(call)
        if parent is not None:
            remote = SpanContext(
                parent.trace_id, parent.span_id, True, TraceFlags(1 if parent.sampled else 0)
            )
            context = trace.set_span_in_context(NonRecordingSpan(remote))
        else:
            context = Context()
        attributes: Attributes = {
            names.GEN_AI_CONVERSATION_ID: call.id,
            names.CALL_ID: call.id,
            names.CALL_NAMED_BY_CLIENT: call.named_by_client,
        }
        put(attributes, names.CALL_JURISDICTION, call.jurisdiction)
        if call.subject and self._subject_hash is not None:
            attributes[names.CALL_SUBJECT_HASH] = self._subject_hash(call.subject)
        # The call span is written when the call ends (like every span here); the sampling decision it will
        # get is taken now, since the upstream requests carry it in their traceparent.
        sampling = self.tracing.provider.sampler.should_sample(context, trace_id, names.SPAN_CALL)
        sampled = sampling.decision is Decision.RECORD_AND_SAMPLE
        flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        return CallTrace(context, attributes, at_ns, trace_id, flags)

    def _call_ended(self, call: Call, at_ns: int) -> None:
        state = self._call(call)
        if not state.sampled:
            return
        attributes: Attributes = {
            names.CALL_ROUTES: sorted(state.routes),
            names.CALL_EXCHANGES: state.exchanges,
            names.CALL_TURNS: state.turns,
            names.CALL_INTERRUPTIONS: state.interruptions,
            names.CALL_DURATION: max(0, at_ns - call.started_ns) / 1e9,
        }
        if state.priced:
            attributes[names.COST_USD] = round(state.cost, 6)
        spec = SpanSpec(
            names.SPAN_CALL,
            state.parent,
            SpanKind.SERVER,
            {**state.attributes, **attributes},
            state.started_ns,
            max(state.started_ns, at_ns),
            ids.call_span_id(call),
            list(state.pending_decisions),
            trace_id=state.trace_id,
        )
        self._defer(self._write_span, spec)

    # --- exchanges ------------------------------------------------------------------------------------------

    def _exchange_started(self, exchange: Exchange) -> None:
        state = self._call(exchange.call)
        state.routes.add(exchange.route)
        state.exchanges += 1
        exchange_trace = ExchangeTrace(content=Content(self._content_budget) if self._capture else None)
        self._exchanges[exchange.id] = exchange_trace
        exchange.upstream_headers["traceparent"] = ids.traceparent(
            state.trace_id, ids.exchange_span_id(exchange), state.sampled
        )
        if exchange.call.tracestate:
            exchange.upstream_headers["tracestate"] = exchange.call.tracestate
        if exchange.transport == "websocket":
            if len(state.connections) >= MAX_CONNECTIONS_PER_CALL:
                state.connections.pop(next(iter(state.connections)))
            state.connections[exchange.id] = Connection(exchange, exchange_trace)

    def _event(self, record: EventObserved) -> None:
        exchange = record.exchange
        exchange_trace = self._exchanges.get(exchange.id)
        if exchange_trace is None:
            return
        exchange_trace.observe(record.event, record.direction is Direction.TO_CLIENT, record.at_ns)
        if exchange.transport != "websocket":
            return
        # A socket carries many turns: what it consumed and said is attributed to the turn it happened in.
        call = exchange.call
        current = call.turns.current
        if current is None:
            return
        extras = self._call(call).turn(current.number)
        if extras is None:
            return
        extras.connections.add(exchange.id)
        extras.stages.add(exchange.info.stage)
        if extras.tally.observe(record.event):
            self._price(call, extras, exchange_trace.model, record.event)
        if self._capture:
            if extras.content is None:
                extras.content = Content(self._content_budget)
            extras.content.observe(record.event)

    def _price(self, call: Call, extras: TurnExtras, model: str | None, event: object) -> None:
        if type(event) is AudioChunk:
            # Every audio frame of a realtime turn is priced; the adapters reuse one chunk object per frame
            # size, so the price of (model, chunk) is worked out once.
            key = (model, event)
            if key in self._audio_costs:
                cost = self._audio_costs[key]
            else:
                cost = self._cost_of(model, event)
                if len(self._audio_costs) >= MAX_AUDIO_COSTS:
                    self._audio_costs.clear()
                self._audio_costs[key] = cost
        else:
            cost = self._cost_of(model, event)
        if cost is not None:
            state = self._call(call)
            extras.cost += cost
            extras.priced = True
            state.cost += cost
            state.priced = True

    def _cost_of(self, model: str | None, event: object) -> float | None:
        """The price of one event alone; ``None`` when it is not billed or the model is not priced."""
        single = UsageTally()
        if not single.observe(event):  # type: ignore[arg-type]
            return None
        return self._prices.cost(model, single)

    def _decision(self, record: DecisionMade) -> None:
        exchange_trace = self._exchanges.get(record.exchange.id)
        if exchange_trace is not None and record.exchange.transport != "websocket":
            exchange_trace.decisions.append((record.at_ns, record.decision))
        else:
            self._call(record.exchange.call).pending_decisions.append((record.at_ns, record.decision))

    def _exchange_finished(self, exchange: Exchange) -> None:
        exchange_trace = self._exchanges.pop(exchange.id, None)
        state = self._call(exchange.call)
        if exchange_trace is None or not state.sampled:
            return
        end = exchange.finished_ns or exchange.started_ns
        attributes = exchange_attributes(exchange, exchange_trace, self._servers.get(exchange.route))
        if exchange.transport == "websocket":
            name, parent = names.SPAN_CONNECTION, ids.call_span_id(exchange.call)
            attributes[names.ATTR_OPERATION] = exchange.info.operation
        else:
            name = stage_span_name(exchange.info, exchange_trace.model, exchange.route)
            parent = self._stage_parent(exchange, state)
            cost = self._prices.cost(exchange_trace.model, exchange_trace.tally)
            if cost is not None and exchange_trace.tally.seen:
                attributes[names.COST_USD] = round(cost, 6)
                self._add_cost(exchange, state, cost)
            if exchange_trace.content is not None:
                attributes.update(exchange_trace.content.attributes(self._redactor))
        error = None
        if exchange.error_type or exchange_trace.upstream_error or (exchange.status or 0) >= 500:
            error = exchange.error_type or exchange_trace.upstream_error or str(exchange.status)
        self._defer(
            self._write_span,
            SpanSpec(
                name,
                state.context_of(parent),
                SpanKind.CLIENT,
                attributes,
                exchange.started_ns,
                end,
                ids.exchange_span_id(exchange),
                exchange_trace.decisions,
                error,
            ),
        )

    def _stage_parent(self, exchange: Exchange, state: CallTrace) -> int:
        number = exchange.turn_number
        if number is None or exchange.info.stage is Stage.OTHER:
            return ids.call_span_id(exchange.call)
        extras = state.turn(number)
        if extras is not None:
            extras.stages.add(exchange.info.stage)
            if extras.earliest_ns is None or exchange.started_ns < extras.earliest_ns:
                extras.earliest_ns = exchange.started_ns
        return ids.turn_span_id(exchange.call, number)

    def _add_cost(self, exchange: Exchange, state: CallTrace, cost: float) -> None:
        state.cost += cost
        state.priced = True
        if exchange.turn_number is not None and (extras := state.turn(exchange.turn_number)) is not None:
            extras.cost += cost
            extras.priced = True

    # --- turns ----------------------------------------------------------------------------------------------

    def _turn_finished(self, call: Call, turn: Turn) -> None:
        state = self._call(call)
        extras = state.extras.pop(turn.number, None) or TurnExtras()
        state.finished_turns.add(turn.number)
        state.turns += 1
        state.interruptions += int(turn.interrupted)
        if not state.sampled:
            return
        start = min(turn.started_ns, extras.earliest_ns or turn.started_ns)
        end = max(start, turn.ended_ns or start)
        attributes = turn_attributes(call.id, turn, turn_mode(turn, extras.stages), extras.tally)
        if extras.priced:
            attributes[names.COST_USD] = round(extras.cost, 6)
        decisions: list[tuple[int, PolicyDecision]] = []
        while state.pending_decisions and state.pending_decisions[0][0] <= end:
            decisions.append(state.pending_decisions.popleft())
        spec = SpanSpec(
            names.SPAN_TURN,
            state.context_of(ids.call_span_id(call)),
            SpanKind.INTERNAL,
            attributes,
            start,
            end,
            ids.turn_span_id(call, turn.number),
            decisions,
        )
        self._defer(self._write_span, spec)
        self._connection_stages(call, state, turn, extras, end)

    def _connection_stages(
        self, call: Call, state: CallTrace, turn: Turn, extras: TurnExtras, turn_end: int
    ) -> None:
        """Per-turn spans for the sockets that worked in this turn (a realtime response, streamed STT/TTS)."""
        parent = state.context_of(ids.turn_span_id(call, turn.number))
        for exchange_id in extras.connections:
            connection = state.connections.get(exchange_id)
            if connection is None:
                continue
            exchange, exchange_trace = connection.exchange, connection.trace
            window = stage_window(turn, exchange.info.stage, turn_end)
            if window is None:
                continue
            model = turn.models.get(exchange.info.stage.value) or exchange_trace.model
            attributes: Attributes = {
                names.GEN_AI_CONVERSATION_ID: call.id,
                names.GEN_AI_PROVIDER_NAME: exchange.info.provider,
                names.ATTR_ROUTE: exchange.route,
                names.EXCHANGE_ID: exchange.id,
                names.TURN_NUMBER: turn.number,
            }
            put(attributes, names.GEN_AI_REQUEST_MODEL, model)
            put(attributes, names.GEN_AI_OPERATION_NAME, operation_name(exchange.info))
            breakdown = turn.breakdown_ms()
            first_audio = breakdown.get("realtime_time_to_first_audio")
            if exchange.info.stage is Stage.REALTIME:
                attributes[names.GEN_AI_OUTPUT_TYPE] = names.OUTPUT_TYPE_SPEECH
                put(
                    attributes,
                    names.REALTIME_TIME_TO_FIRST_AUDIO,
                    None if first_audio is None else first_audio / 1000,
                )
            if len(extras.connections) == 1:
                usage_attributes(attributes, extras.tally)
                if extras.priced:
                    attributes[names.COST_USD] = round(extras.cost, 6)
                if extras.content is not None:
                    attributes.update(extras.content.attributes(self._redactor))
            name = stage_span_name(exchange.info, model, exchange.route)
            self._defer(self._write_span, SpanSpec(name, parent, SpanKind.CLIENT, attributes, *window))

    def _write_span(self, spec: SpanSpec) -> None:
        """Hand one finished span to the span processors (deferred, off the response's critical path).

        Built as a finished ``ReadableSpan`` directly rather than started and ended through the SDK tracer:
        every value here is already known (ids derived, times stamped, attributes typed), so the tracer's
        context handling, attribute cleaning and per-call locking would only cost. The sampler is still
        asked, with the same arguments the tracer would pass, so a configured sampler keeps its say.
        """
        parent = trace.get_current_span(spec.parent).get_span_context()
        parent_context = parent if parent.is_valid else None
        trace_id = parent.trace_id if parent_context is not None else spec.trace_id or ids.random_trace_id()
        sampling = self._sampler.should_sample(spec.parent, trace_id, spec.name, spec.kind, spec.attributes)
        if sampling.decision is not Decision.RECORD_AND_SAMPLE:
            return
        # The sampler's attributes are the span's (it echoes the ones it was given, as the tracer expects);
        # sequences become tuples, as the SDK's attribute cleaning leaves them.
        attributes = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in (sampling.attributes or {}).items()
        }
        context = SpanContext(
            trace_id,
            spec.span_id or ids.random_span_id(),
            False,
            SAMPLED,
            sampling.trace_state,
        )
        events = [
            Event(names.EVENT_POLICY_DECISION, decision_attributes(decision), decided_ns)
            for decided_ns, decision in spec.decisions
        ]
        span = ReadableSpan(
            spec.name,
            context,
            parent_context,
            self._resource,
            attributes,
            events,
            (),
            spec.kind,
            status=Status(StatusCode.ERROR, spec.error) if spec.error is not None else _UNSET,
            start_time=spec.start_ns,
            end_time=spec.end_ns,
            instrumentation_scope=self._scope,
        )
        self._processor.on_end(span)
