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
from typing import Protocol, TypeAlias, runtime_checkable

from voiceguard.events import REPORT_EVENTS, Direction, Event, Stage
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


@runtime_checkable
class Selective(Protocol):
    """A guard that can tell from an event's type alone that it would hand the event back untouched.

    Realtime audio is tens of frames a second per call and most guards only read text; the chain asks once
    per (event type, direction, stage) and leaves such a guard out for those events instead of calling it
    on every frame. ``passes`` may say True only when ``process`` would yield exactly ``(event,)`` and
    change no state for *every* event of that type there; when unsure, say False.
    """

    def passes(self, kind: type[Event], direction: Direction, stage: Stage) -> bool:
        """True when every ``kind`` event going ``direction`` in a ``stage`` exchange passes untouched."""
        ...


_PlanKey: TypeAlias = tuple[type[Event], Direction, Stage]


@dataclass(frozen=True, slots=True)
class ChainResult:
    """What came out of the chain: events to forward, and the guards' reports."""

    events: list[Event]
    reports: list[Event]


class GuardChain:
    """Runs events through the guards in order; every event a guard yields goes to the next guard.

    A ``Selective`` guard is skipped for the event types it declared it passes (the plan is worked out
    once per event type, direction and stage); a skipped guard behaves exactly as if it had yielded the
    event back, so the order and the results are those of calling every guard.
    """

    __slots__ = ("_plans", "guards")

    def __init__(self, guards: Sequence[Guard]) -> None:
        self.guards = tuple(guards)
        self._plans: dict[_PlanKey, tuple[int, ...]] = {}

    def start(self, call: Call) -> None:
        for guard in self.guards:
            guard.start(call)

    def finish(self, call: Call) -> None:
        for guard in self.guards:
            guard.finish(call)

    def process(self, ctx: GuardContext, events: list[Event]) -> ChainResult:
        """Run ``events`` through every guard; returns the same list object when no guard changed them."""
        if not self.guards or not events:
            return ChainResult(events, [])
        reports: list[Event] = []
        try:
            if len(events) == 1:
                # The common unit (one audio frame, one delta): only the guards that want it, and no new
                # list unless one of them changes something.
                event = events[0]
                for index in self._plan(type(event), ctx):
                    produced = self._through(self.guards[index], ctx, event, reports)
                    if len(produced) != 1 or produced[0] is not event:
                        return ChainResult(self._run(ctx, produced, index + 1, reports), reports)
                return ChainResult(events, reports)
            return ChainResult(self._run(ctx, events, 0, reports), reports)
        except Blocked as blocked:
            blocked.reports = reports + blocked.reports
            raise

    def _run(self, ctx: GuardContext, events: list[Event], first: int, reports: list[Event]) -> list[Event]:
        """Every event through the guards from ``first`` on, each guard seeing what the previous yielded."""
        current = events
        for index in range(first, len(self.guards)):
            guard = self.guards[index]
            produced: list[Event] = []
            for event in current:
                if index in self._plan(type(event), ctx):
                    produced.extend(self._through(guard, ctx, event, reports))
                else:
                    produced.append(event)
            current = produced
        return current

    @staticmethod
    def _through(guard: Guard, ctx: GuardContext, event: Event, reports: list[Event]) -> list[Event]:
        """What ``guard`` yields for ``event``, its reports moved to ``reports`` as they come."""
        produced: list[Event] = []
        for out in guard.process(ctx, event):
            if isinstance(out, REPORT_EVENTS):
                reports.append(out)
            else:
                produced.append(out)
        return produced

    def _plan(self, kind: type[Event], ctx: GuardContext) -> tuple[int, ...]:
        """Indices of the guards that must see a ``kind`` event in this direction and stage."""
        key = (kind, ctx.direction, ctx.exchange.stage)
        plan = self._plans.get(key)
        if plan is None:
            plan = tuple(
                index
                for index, guard in enumerate(self.guards)
                if not (isinstance(guard, Selective) and guard.passes(*key))
            )
            self._plans[key] = plan
        return plan
