"""Admission control: who may open another call, socket or request, and how fast a call may talk.

These limits keep one client (or one runaway call) from exhausting the proxy, so they are checked before
any upstream work starts: concurrent calls per client address, concurrent WebSocket connections, HTTP
requests per call and client WebSocket messages per call (token buckets, so short bursts pass). Everything
here is in memory and per process; with several replicas each enforces its own share.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from voiceguard.config import LimitsConfig
from voiceguard.session import Call, Exchange


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is not admitted, in the contract's terms."""

    status: int
    error_type: str
    message: str
    retry_after_s: float | None = None

    @property
    def headers(self) -> dict[str, str] | None:
        if self.retry_after_s is None:
            return None
        return {"Retry-After": str(max(1, round(self.retry_after_s + 0.5)))}


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; a take fails rather than waits."""

    __slots__ = ("_burst", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = now

    def take(self, now: float) -> bool:
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_s(self) -> float:
        """Seconds until the next token (after a failed take)."""
        return max(0.0, (1.0 - self._tokens) / self._rate)


@dataclass(slots=True)
class _CallBuckets:
    requests: TokenBucket
    ws_messages: TokenBucket


_BUCKETS_KEY: Final = object()


def client_address(remote: str | None, headers: Mapping[str, str], header: str | None) -> str:
    """The address limits are counted against: the peer, or the configured forwarding header's last hop."""
    if header:
        value = headers.get(header)
        if value:
            return value.rsplit(",", 1)[-1].strip() or "unknown"
    return remote or "unknown"


class Admission:
    """The limits of one proxy process; the server asks before an exchange and tells it when one ends."""

    __slots__ = ("_calls_by_client", "_clock", "_limits", "websockets")

    def __init__(self, limits: LimitsConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._calls_by_client: dict[str, Counter[str]] = {}
        self.websockets = 0

    def admit(self, client: str, exchange: Exchange) -> Refusal | None:
        """Admit ``exchange`` for ``client``, or say why not; an admitted one must be ``release``d."""
        limits = self._limits
        websocket = exchange.transport == "websocket"
        if websocket and self.websockets >= limits.max_websockets:
            return Refusal(503, "too_many_websockets", "voiceguard is at its limit of WebSocket connections")
        calls = self._calls_by_client.get(client)
        call = exchange.call
        if (calls is None or call.id not in calls) and len(calls or ()) >= limits.max_calls_per_client:
            return Refusal(
                429,
                "too_many_calls_from_client",
                f"this client already has {limits.max_calls_per_client} calls open",
                retry_after_s=1.0,
            )
        if not websocket and call.named_by_client:
            bucket = self._buckets(call).requests
            if not bucket.take(self._clock()):
                return Refusal(
                    429,
                    "call_rate_limited",
                    f"more than {limits.call_requests_per_second:g} requests a second on this call",
                    retry_after_s=bucket.wait_s(),
                )
        if calls is None:
            calls = self._calls_by_client[client] = Counter()
        calls[call.id] += 1
        if websocket:
            self.websockets += 1
        return None

    def release(self, client: str, exchange: Exchange) -> None:
        calls = self._calls_by_client.get(client)
        if calls is None:
            return
        call_id = exchange.call.id
        calls[call_id] -= 1
        if calls[call_id] <= 0:
            del calls[call_id]
            if not calls:
                del self._calls_by_client[client]
        if exchange.transport == "websocket":
            self.websockets -= 1

    def ws_message_allowed(self, call: Call) -> bool:
        """One client WebSocket message on ``call``; False once it outruns its bucket."""
        return self._buckets(call).ws_messages.take(self._clock())

    def clients(self) -> int:
        """Client addresses with an open call (for tests and health output)."""
        return len(self._calls_by_client)

    def _buckets(self, call: Call) -> _CallBuckets:
        # A bound method, not a closure: this runs for every client WebSocket message.
        return call.scratch(_BUCKETS_KEY, self._fresh_buckets)

    def _fresh_buckets(self) -> _CallBuckets:
        limits = self._limits
        now = self._clock()
        return _CallBuckets(
            TokenBucket(limits.call_requests_per_second, limits.call_request_burst, now),
            TokenBucket(limits.call_ws_messages_per_second, limits.call_ws_message_burst, now),
        )
