"""Reading a client's request body: bounded in size and in how long the client may stall.

A body is either read whole (small ones, and those an adapter inspects) or streamed upstream chunk by chunk
(large uploads). Either way a client that goes quiet for ``timeouts.client_idle`` seconds gets 408 instead
of holding a connection and an upstream request open. While a body streams, the upstream's first-byte clock
is paused on the client's side and reset to the upstream idle time on every chunk written, so a long upload
is never mistaken for a slow upstream; the first-byte time starts once the last byte went up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Literal

from aiohttp import web

from voiceguard.session import Exchange

BodyFailure = Literal["too_large", "client_stalled"]


class BodyFailed(Exception):
    """The body could not be read; ``reason`` says why (answered 413 or 408)."""

    def __init__(self, reason: BodyFailure) -> None:
        super().__init__(reason)
        self.reason: BodyFailure = reason


async def _next_chunk(request: web.Request, idle: float | None) -> bytes:
    try:
        async with asyncio.timeout(idle):
            return await request.content.readany()
    except TimeoutError:
        raise BodyFailed("client_stalled") from None


async def read_body(request: web.Request, limit: int, idle: float | None, exchange: Exchange) -> bytes:
    """The whole body, or ``BodyFailed`` past ``limit`` bytes or after ``idle`` seconds of silence."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await _next_chunk(request, idle)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise BodyFailed("too_large")
        chunks.append(chunk)
    exchange.bytes_from_client = total
    return b"".join(chunks)


class StreamedBody:
    """Streams the request body upstream, refusing to go past ``limit`` bytes or to wait past ``idle``.

    aiohttp wraps an exception raised inside a streamed body into its own client error, so the reason is
    kept on ``failure`` for the forwarder to answer 413 or 408 rather than 502.
    """

    __slots__ = ("exchange", "failure", "first_byte", "idle", "limit", "request", "timer", "upstream_idle")

    def __init__(
        self,
        request: web.Request,
        exchange: Exchange,
        *,
        limit: int,
        idle: float | None,
        upstream_idle: float | None,
        first_byte: float | None,
    ) -> None:
        self.request = request
        self.exchange = exchange
        self.limit = limit
        self.idle = idle
        self.upstream_idle = upstream_idle
        self.first_byte = first_byte
        self.failure: BodyFailure | None = None
        self.timer: asyncio.Timeout | None = None
        """The upstream's first-byte timer while the request is in flight; ``None`` once it answered."""

    def _reschedule(self, delay: float | None) -> None:
        timer = self.timer
        if timer is not None and not timer.expired():
            timer.reschedule(None if delay is None else asyncio.get_running_loop().time() + delay)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        while True:
            self._reschedule(None)
            try:
                chunk = await _next_chunk(self.request, self.idle)
            except BodyFailed as failed:
                self.failure = failed.reason
                raise
            if not chunk:
                self._reschedule(self.first_byte)
                return
            total += len(chunk)
            self.exchange.bytes_from_client = total
            if total > self.limit:
                self.failure = "too_large"
                raise BodyFailed("too_large")
            self._reschedule(self.upstream_idle)
            yield chunk
