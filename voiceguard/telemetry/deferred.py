"""Telemetry work moved off the request's critical path, onto the next turn of the event loop.

Sinks are called on the request path: what they must know at that moment (which turn is current, what an
event said) they record at once, but building spans and recording metric points (the OpenTelemetry SDK's
attribute cleaning and hashing) waits until the step of the request that produced the record has yielded,
so the bytes of a response go out first. Without a running loop (a pipeline driven directly in tests or
tools) the work runs at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("voiceguard.telemetry")


class Deferred:
    """A queue of telemetry work drained by one ``call_soon`` callback per loop iteration."""

    __slots__ = ("_scheduled", "_work", "failures")

    def __init__(self) -> None:
        self._work: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._scheduled = False
        self.failures = 0

    def __call__(self, work: Callable[..., None], *args: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._run(work, args)
            return
        self._work.append((work, args))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.drain)

    def drain(self) -> None:
        self._scheduled = False
        while self._work:
            work, args = self._work.popleft()
            self._run(work, args)

    def _run(self, work: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            work(*args)
        except Exception:
            self.failures += 1
            log.exception("telemetry_work_failed", work=getattr(work, "__qualname__", repr(work)))
