"""What the proxy tells its sinks (tracing, metrics, audit, logs), and the sink interface.

Sinks are fed from the request path, so ``handle`` must return at once: a sink that needs I/O queues the
record and does the work in a task it owns. A sink failure never breaks traffic; the fan-out counts it and
carries on. A sink that must make a record durable before the client sees the end of a response (the audit
log) also implements ``DurableSink``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeAlias, runtime_checkable

from voiceguard.events import Direction, Event, PolicyDecision
from voiceguard.session import Call, Exchange
from voiceguard.turns import Turn


@dataclass(frozen=True, slots=True)
class CallStarted:
    call: Call
    at_ns: int


@dataclass(frozen=True, slots=True)
class CallEnded:
    call: Call
    at_ns: int


@dataclass(frozen=True, slots=True)
class ExchangeStarted:
    exchange: Exchange


@dataclass(frozen=True, slots=True)
class ExchangeFinished:
    """The exchange is over (response complete, socket closed, or failed); see ``exchange.outcome``."""

    exchange: Exchange


@dataclass(frozen=True, slots=True)
class EventObserved:
    """An event passed the guards and went on toward ``direction`` at ``at_ns``."""

    exchange: Exchange
    event: Event
    direction: Direction
    at_ns: int


@dataclass(frozen=True, slots=True)
class DecisionMade:
    exchange: Exchange
    decision: PolicyDecision
    at_ns: int


@dataclass(frozen=True, slots=True)
class TurnFinished:
    call: Call
    turn: Turn


Record: TypeAlias = (
    CallStarted | CallEnded | ExchangeStarted | ExchangeFinished | EventObserved | DecisionMade | TurnFinished
)


class Sink(Protocol):
    """Receives every record; must not block."""

    name: str

    def handle(self, record: Record) -> None: ...


@runtime_checkable
class SelectiveSink(Protocol):
    """A sink that ignores whole kinds of records (an access log reads only ``ExchangeFinished``).

    The pipeline asks once per record type and stops handing it the others, so the per-frame
    ``EventObserved`` of a realtime call reaches only the sinks that read it.
    """

    def wants(self, kind: type[Record]) -> bool:
        """False when ``handle`` does nothing with any record of type ``kind``."""
        ...


@runtime_checkable
class DurableSink(Protocol):
    """A sink whose records of an exchange must be durable before the response completes."""

    async def durable(self, exchange: Exchange) -> None:
        """Return once every record of ``exchange`` handed over so far is durably stored."""
        ...


@runtime_checkable
class ClosableSink(Protocol):
    """A sink with background work to start and to finish at shutdown."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...
