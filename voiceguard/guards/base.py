"""The guard interface and the chain that runs guards in order.

A guard looks at one event at a time and yields what should continue: the event itself (continue), a
changed copy (rewrite), nothing (hold it back, e.g. a streamed tail that may still become a card number),
several events (inject), or raises ``Blocked`` (refuse). Guards report what they decided by yielding
``PolicyDecision`` and ``ClientNotice`` events; the chain takes those out of the stream and hands them to
the proxy, so guards never touch a tracer, a log or the audit store.

Guards are pure and synchronous: no sockets, no asyncio. What they need to know about a call (jurisdiction,
consent on record, a pseudonym map) they read from the ``Call`` passed in ``GuardContext``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from voiceguard.events import REPORT_EVENTS, Direction, Event
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.session import Call


@dataclass(frozen=True, slots=True)
class GuardContext:
    """Where an event is: which call, which exchange, which direction.

    ``exchange_id`` tells concurrent exchanges of one call apart (two streamed replies both have a
    ``choice0``), so per-stream state can be keyed by it.
    """

    call: Call
    exchange: ExchangeInfo
    direction: Direction
    exchange_id: str = ""


class Blocked(Exception):
    """A guard refuses the exchange; the proxy answers with the contract's error or closes the socket."""

    def __init__(
        self,
        rule_id: str,
        message: str,
        status: int = 403,
        close_code: int = 1008,
        evidence: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.rule_id = rule_id
        self.message = message
        self.status = status
        self.close_code = close_code
        self.reports: list[Event] = []
        """Decisions the chain had collected before the block, so they are recorded too."""
        self.evidence = evidence
        """Recorded with the block decision the pipeline reports (ids and versions, never personal data)."""


class Guard(Protocol):
    """One policy step; ``name`` appears in logs and decision records."""

    name: str

    def start(self, call: Call) -> None:
        """A call begins (prepare per-call state on ``call``)."""
        ...

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        """Yield what continues in place of ``event``."""
        ...

    def finish(self, call: Call) -> None:
        """A call ended (drop any per-call state kept outside ``call``)."""
        ...


@dataclass(frozen=True, slots=True)
class ChainResult:
    """What came out of the chain: events to forward, and the guards' reports."""

    events: list[Event]
    reports: list[Event]


class GuardChain:
    """Runs events through the guards in order; every event a guard yields goes to the next guard."""

    __slots__ = ("guards",)

    def __init__(self, guards: Sequence[Guard]) -> None:
        self.guards = tuple(guards)

    def start(self, call: Call) -> None:
        for guard in self.guards:
            guard.start(call)

    def finish(self, call: Call) -> None:
        for guard in self.guards:
            guard.finish(call)

    def process(self, ctx: GuardContext, events: list[Event]) -> ChainResult:
        """Run ``events`` through every guard; returns the same list object when no guard is configured."""
        if not self.guards or not events:
            return ChainResult(events, [])
        reports: list[Event] = []
        current = events
        try:
            for guard in self.guards:
                produced: list[Event] = []
                for event in current:
                    for out in guard.process(ctx, event):
                        if isinstance(out, REPORT_EVENTS):
                            reports.append(out)
                        else:
                            produced.append(out)
                current = produced
        except Blocked as blocked:
            blocked.reports = reports + blocked.reports
            raise
        return ChainResult(current, reports)
