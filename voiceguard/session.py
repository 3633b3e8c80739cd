"""Calls and exchanges: how requests are grouped into a call, and what is known about each.

A call is named by the client (correlation header, query parameter, baggage or traceparent); a WebSocket
without a name is a call by itself, and so is a REST request without one. Per-call state lives on the
``Call`` (turns, per-guard scratch state) and goes away with it: the registry is bounded and ends calls that
went idle, so memory does not grow with traffic.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

from voiceguard.events import ClientNotice, Direction
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.turns import TurnTracker

if TYPE_CHECKING:
    from voiceguard.guards.base import GuardContext

T = TypeVar("T")

_exchange_ids = itertools.count(1)
_PROCESS_TAG = os.urandom(3).hex()


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a request says about the call it belongs to (already stripped from what goes upstream)."""

    call_id: str | None = None
    subject: str | None = None
    jurisdiction: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None


@dataclass(slots=True, eq=False)
class Call:
    """One conversation: every exchange that carries its id, cut into turns."""

    id: str
    named_by_client: bool
    started_ns: int
    subject: str | None = None
    """The caller as the client named it; kept in memory only, never logged, traced or stored raw."""
    jurisdiction: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    caller_number: str | None = None
    """The caller's phone number as a telephony stream announced it (``CallerInfo``), E.164 when the bridge
    passes it so; in memory only. The policy layer derives a jurisdiction from it where none was declared."""
    last_seen_ns: int = 0
    aliases: tuple[str, ...] = ()
    """Other names requests may use to join this call (a telephony stream's call SID)."""
    active_exchanges: int = 0
    exchange_count: int = 0
    ended: bool = False
    turns: TurnTracker = field(default_factory=TurnTracker)
    _scratch: dict[object, object] = field(default_factory=dict)

    def scratch(self, key: object, factory: Callable[[], T]) -> T:
        """Per-call state owned by one component (a guard, a sink), freed when the call ends."""
        try:
            return self._scratch[key]  # type: ignore[return-value]
        except KeyError:
            value = factory()
            self._scratch[key] = value
            return value


@dataclass(slots=True, eq=False)
class Exchange:
    """One HTTP request/response or one WebSocket connection of a call."""

    id: str
    call: Call
    route: str
    info: ExchangeInfo
    transport: Literal["http", "websocket"]
    method: str
    path: str
    started_ns: int
    model: str | None = None
    request_sent_ns: int | None = None
    first_byte_ns: int | None = None
    finished_ns: int | None = None
    status: int | None = None
    outcome: str = "ok"
    error_type: str | None = None
    bytes_from_client: int = 0
    bytes_to_client: int = 0
    messages_from_client: int = 0
    messages_to_client: int = 0
    proxy_ns: int = 0
    """Time spent inside voiceguard on this exchange (parsing, guards, rendering), not waiting on I/O."""
    notices: list[ClientNotice] = field(default_factory=list)
    upstream_headers: dict[str, str] = field(default_factory=dict)
    """Headers sinks add to the upstream request when they see ``ExchangeStarted`` (e.g. ``traceparent``)."""
    turn_number: int | None = None
    """The turn of the call this exchange's request belongs to (set when the request goes upstream)."""
    guard_contexts: dict[Direction, GuardContext] = field(default_factory=dict)
    """The pipeline's ``GuardContext`` per direction, made once instead of once per frame."""

    @staticmethod
    def new_id() -> str:
        return f"{_PROCESS_TAG}-{next(_exchange_ids):x}"


class CallRegistry:
    """The live calls of this process, bounded in number and expired when idle."""

    __slots__ = ("_aliases", "_calls", "_idle_ns", "_max_calls", "_on_end")

    def __init__(self, max_calls: int, idle_seconds: float, on_end: Callable[[Call], None]) -> None:
        self._calls: OrderedDict[str, Call] = OrderedDict()
        self._aliases: dict[str, str] = {}
        self._max_calls = max_calls
        self._idle_ns = int(idle_seconds * 1_000_000_000)
        self._on_end = on_end

    def __len__(self) -> int:
        return len(self._calls)

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(self._aliases.get(call_id, call_id))

    def alias(self, call: Call, name: str) -> bool:
        """Let requests that name the call ``name`` join ``call`` (a Twilio stream's call SID, which the
        agent's own requests carry); refused when a call of that name exists already."""
        if not name or call.ended or name in self._calls or name in self._aliases or name == call.id:
            return False
        self._aliases[name] = call.id
        call.aliases = (*call.aliases, name)
        return True

    def open(self, context: CallContext, now_ns: int) -> tuple[Call, bool] | None:
        """The call this request joins, and whether it is new; ``None`` when the registry is full."""
        call_id = context.call_id
        if call_id is not None:
            call = self.get(call_id)
            if call is not None:
                self._calls.move_to_end(call.id)
                call.active_exchanges += 1
                call.exchange_count += 1
                call.last_seen_ns = now_ns
                if context.jurisdiction and not call.jurisdiction:
                    call.jurisdiction = context.jurisdiction
                if context.subject and not call.subject:
                    call.subject = context.subject
                return call, False
        if len(self._calls) >= self._max_calls and not self._evict_one():
            return None
        call = Call(
            id=call_id or os.urandom(16).hex(),
            named_by_client=call_id is not None,
            started_ns=now_ns,
            subject=context.subject,
            jurisdiction=context.jurisdiction,
            traceparent=context.traceparent,
            tracestate=context.tracestate,
            last_seen_ns=now_ns,
            active_exchanges=1,
            exchange_count=1,
        )
        self._calls[call.id] = call
        return call, True

    def release(self, call: Call, now_ns: int) -> bool:
        """An exchange of ``call`` finished; returns True when the call ended with it."""
        call.active_exchanges -= 1
        call.last_seen_ns = now_ns
        if call.active_exchanges <= 0 and not call.named_by_client:
            self._end(call)
            return True
        return False

    def expire(self, now_ns: int) -> list[Call]:
        """End calls with no live exchange that were idle for longer than the configured time."""
        expired = [
            call
            for call in self._calls.values()
            if call.active_exchanges <= 0 and now_ns - call.last_seen_ns >= self._idle_ns
        ]
        for call in expired:
            self._end(call)
        return expired

    def end_all(self) -> list[Call]:
        calls = list(self._calls.values())
        for call in calls:
            self._end(call)
        return calls

    def live(self) -> list[Call]:
        return list(self._calls.values())

    def _end(self, call: Call) -> None:
        call.ended = True
        self._calls.pop(call.id, None)
        for name in call.aliases:
            self._aliases.pop(name, None)
        self._on_end(call)

    def _evict_one(self) -> bool:
        for call in self._calls.values():
            if call.active_exchanges <= 0:
                self._end(call)
                return True
        return False
