"""The path every event takes between an adapter and the wire: guards, then turns, then sinks.

The server owns sockets and hands each parsed unit's events to ``Pipeline.process``; what comes back is
what the adapter renders. Calls, exchanges and turns are opened and closed here so that every sink sees one
consistent story (call started → exchanges → turns → call ended), whatever the transport.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import structlog

from voiceguard.correlation import valid_call_id
from voiceguard.events import CallerInfo, ClientNotice, Direction, Event, PolicyDecision, Stage
from voiceguard.guards.base import Blocked, GuardChain, GuardContext
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.records import (
    CallEnded,
    CallStarted,
    DecisionMade,
    DurableSink,
    EventObserved,
    ExchangeFinished,
    ExchangeStarted,
    Record,
    SelectiveSink,
    Sink,
    TurnFinished,
)
from voiceguard.session import Call, CallContext, CallRegistry, Exchange

log = structlog.get_logger("voiceguard.pipeline")


class Pipeline:
    """Guards, call registry and sinks of one proxy process."""

    def __init__(
        self,
        chain: GuardChain,
        sinks: Sequence[Sink],
        *,
        max_calls: int,
        call_idle_seconds: float,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.chain = chain
        self.sinks = tuple(sinks)
        self.durable_sinks = tuple(s for s in sinks if isinstance(s, DurableSink))
        self.clock = clock
        self.calls = CallRegistry(max_calls, call_idle_seconds, on_end=self._call_ended)
        self.sink_failures = 0
        self._sinks_by_kind: dict[type[Record], tuple[Sink, ...]] = {}

    # --- records ------------------------------------------------------------------------------------------

    def emit(self, record: Record) -> None:
        """Hand a record to the sinks wanting its kind; a failing sink is counted and logged, never raised."""
        kind = type(record)
        sinks = self._sinks_by_kind.get(kind)
        if sinks is None:
            sinks = tuple(s for s in self.sinks if not isinstance(s, SelectiveSink) or s.wants(kind))
            self._sinks_by_kind[kind] = sinks
        for sink in sinks:
            try:
                sink.handle(record)
            except Exception:
                self.sink_failures += 1
                log.exception("sink_failed", sink=sink.name, record=type(record).__name__)

    # --- calls and exchanges ------------------------------------------------------------------------------

    def open_exchange(
        self,
        context: CallContext,
        *,
        route: str,
        info: ExchangeInfo,
        transport: str,
        method: str,
        path: str,
    ) -> Exchange | None:
        """Join or start the call and begin an exchange; ``None`` when no more calls can be taken."""
        now = self.clock()
        opened = self.calls.open(context, now)
        if opened is None:
            return None
        call, is_new = opened
        if is_new:
            self.chain.start(call)
            self.emit(CallStarted(call, now))
        exchange = Exchange(
            id=Exchange.new_id(),
            call=call,
            route=route,
            info=info,
            transport="websocket" if transport == "websocket" else "http",
            method=method,
            path=path,
            started_ns=now,
        )
        self.emit(ExchangeStarted(exchange))
        return exchange

    def request_sent(self, exchange: Exchange) -> None:
        """The request (or WebSocket handshake) went upstream: the stage's clock starts.

        The proxy time spent on the request so far goes to the turn the request belongs to, which may only
        open now (a new user utterance), and the exchange remembers that turn for the sinks.
        """
        now = self.clock()
        exchange.request_sent_ns = now
        turns = exchange.call.turns
        turns.request_sent(exchange.info.stage, now, exchange.proxy_ns)
        if turns.current is not None:
            exchange.turn_number = turns.current.number

    def add_overhead(self, exchange: Exchange, overhead_ns: int) -> None:
        """Time spent inside voiceguard on ``exchange``; once sent, also on the current turn."""
        exchange.proxy_ns += overhead_ns
        if exchange.request_sent_ns is not None:
            exchange.call.turns.add_overhead(overhead_ns)

    def first_byte(self, exchange: Exchange) -> None:
        if exchange.first_byte_ns is None:
            exchange.first_byte_ns = self.clock()

    def finish_exchange(self, exchange: Exchange, *, status: int | None, outcome: str = "ok") -> None:
        """The exchange is over: record it, close idle turns, and end the call if it was its own."""
        now = self.clock()
        exchange.finished_ns = now
        if status is not None:
            exchange.status = status
        if exchange.outcome == "ok":
            exchange.outcome = outcome
        call = exchange.call
        self.emit(ExchangeFinished(exchange))
        if not self.calls.release(call, now):
            self._drain_turns(call, now)

    async def durable(self, exchange: Exchange) -> None:
        """Wait until durable sinks hold every record of ``exchange`` (before the response completes)."""
        for sink in self.durable_sinks:
            try:
                await sink.durable(exchange)
            except Exception:
                self.sink_failures += 1
                log.exception("durable_sink_failed", sink=type(sink).__name__)

    def sweep(self) -> None:
        """Periodic housekeeping: end idle calls and close idle turns of live ones."""
        now = self.clock()
        self.calls.expire(now)
        for call in self.calls.live():
            self._drain_turns(call, now)

    def shutdown(self) -> None:
        self.calls.end_all()

    # --- events -------------------------------------------------------------------------------------------

    def process(self, exchange: Exchange, events: list[Event], direction: Direction) -> list[Event]:
        """Run one unit's events through the guards and account for what continues.

        Raises ``Blocked`` when a guard refuses; the caller turns that into the contract's error.
        """
        if not events:
            return events
        call = exchange.call
        for event in events:
            if type(event) is CallerInfo:
                _learn_caller(call, event)
                if event.call_sid and valid_call_id(event.call_sid):
                    self.calls.alias(call, event.call_sid)
        ctx = exchange.guard_contexts.get(direction)
        if ctx is None:
            ctx = GuardContext(call, exchange.info, direction, exchange.id)
            exchange.guard_contexts[direction] = ctx
        try:
            result = self.chain.process(ctx, events)
        except Blocked as blocked:
            self._report(exchange, blocked.reports)
            if not any(
                isinstance(r, PolicyDecision) and r.rule_id == blocked.rule_id for r in blocked.reports
            ):
                decision = PolicyDecision(blocked.rule_id, "block", "blocked", evidence=blocked.evidence)
                self._report(exchange, [decision])
            raise
        now = self.clock()
        if result.reports:
            self._report(exchange, result.reports, now)
        stage: Stage = exchange.info.stage
        turns = call.turns
        for event in result.events:
            turns.observe(stage, event, now)
            self.emit(EventObserved(exchange, event, direction, now))
        return result.events

    def _report(self, exchange: Exchange, reports: list[Event], now: int | None = None) -> None:
        at = self.clock() if now is None else now
        for report in reports:
            if isinstance(report, PolicyDecision):
                self.emit(DecisionMade(exchange, report, at))
            elif isinstance(report, ClientNotice):
                exchange.notices.append(report)

    def _call_ended(self, call: Call) -> None:
        now = self.clock()
        self._drain_turns(call, now, ending=True)
        self.chain.finish(call)
        self.emit(CallEnded(call, now))

    def _drain_turns(self, call: Call, now: int, *, ending: bool = False) -> None:
        for turn in call.turns.drain(now, ending=ending):
            self.emit(TurnFinished(call, turn))


def _learn_caller(call: Call, caller: CallerInfo) -> None:
    """A telephony stream named its caller: the call's subject unless the client named one already.

    Taken from the adapter's event before the guards run, so a guard that keeps the number out of the
    records cannot also keep it from the policy that needs it (consent lookups, jurisdiction).
    """
    number = caller.phone_number
    if number:
        call.caller_number = number
        if call.subject is None:
            call.subject = number
