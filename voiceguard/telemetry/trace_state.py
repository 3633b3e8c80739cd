"""What the tracing sink keeps per call and turn until it writes their spans, and a span to be written.

Kept on the call (``Call.scratch``), so it goes away with the call; bounded per call (connections, pending
decisions).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from voiceguard.events import PolicyDecision, Stage
from voiceguard.session import Exchange
from voiceguard.telemetry.cost import UsageTally
from voiceguard.telemetry.spans import Attributes, Content, ExchangeTrace

MAX_PENDING_DECISIONS: Final = 256
MAX_CONNECTIONS_PER_CALL: Final = 64
SAMPLED = TraceFlags(TraceFlags.SAMPLED)


@dataclass(frozen=True, slots=True)
class SpanSpec:
    """Everything a span needs, taken on the request path; the span itself is built later."""

    name: str
    parent: Context
    kind: SpanKind
    attributes: Attributes
    start_ns: int
    end_ns: int
    span_id: int | None = None
    decisions: list[tuple[int, PolicyDecision]] = field(default_factory=list)
    error: str | None = None
    trace_id: int | None = None
    """Only for a root span (no parent in this process): the trace it starts."""


@dataclass(slots=True)
class Connection:
    """A WebSocket exchange of a call, for the per-turn stage spans it gets."""

    exchange: Exchange
    trace: ExchangeTrace


@dataclass(slots=True)
class TurnExtras:
    tally: UsageTally = field(default_factory=UsageTally)
    cost: float = 0.0
    priced: bool = False
    earliest_ns: int | None = None
    connections: set[str] = field(default_factory=set)
    stages: set[Stage] = field(default_factory=set)
    content: Content | None = None


@dataclass(slots=True)
class CallTrace:
    parent: Context
    """The client's span from its ``traceparent``, or no parent."""
    attributes: Attributes
    started_ns: int
    trace_id: int
    flags: TraceFlags
    routes: set[str] = field(default_factory=set)
    exchanges: int = 0
    turns: int = 0
    interruptions: int = 0
    cost: float = 0.0
    priced: bool = False
    extras: dict[int, TurnExtras] = field(default_factory=dict)
    finished_turns: set[int] = field(default_factory=set)
    connections: dict[str, Connection] = field(default_factory=dict)
    pending_decisions: deque[tuple[int, PolicyDecision]] = field(
        default_factory=lambda: deque(maxlen=MAX_PENDING_DECISIONS)
    )

    @property
    def sampled(self) -> bool:
        """An unsampled call (the client's trace is not sampled, or the sampler said no) builds no span."""
        return bool(self.flags & TraceFlags.SAMPLED)

    def context_of(self, span_id: int) -> Context:
        return trace.set_span_in_context(
            NonRecordingSpan(SpanContext(self.trace_id, span_id, False, self.flags))
        )

    def turn(self, number: int) -> TurnExtras | None:
        if number in self.finished_turns:
            return None
        extras = self.extras.get(number)
        if extras is None:
            extras = self.extras[number] = TurnExtras()
        return extras
