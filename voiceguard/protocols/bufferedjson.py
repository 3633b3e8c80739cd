"""A complete JSON response body as one wire unit: buffered (the client waits for all of it anyway).

Shared by the adapters whose non-streamed replies are one JSON document; the adapter supplies the function
that finds the events in it, and a changed event is spliced back at its path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from voiceguard.events import Event
from voiceguard.protocols.base import WireUnit
from voiceguard.protocols.jsonunit import render_json
from voiceguard.protocols.sse import WireLimitExceeded
from voiceguard.protocols.wirejson import loads

MAX_BUFFERED_BYTES: Final = 16 * 1024 * 1024

EventFinder = Callable[[Any, bytes, int], list[Event]]
"""(parsed body, raw bytes, message id) → events whose origins name that message id."""

MESSAGE_ID: Final = 1
"""One document per codec: its origins all name this message."""


class BufferedJsonCodec:
    def __init__(self, find_events: EventFinder, limit: int = MAX_BUFFERED_BYTES) -> None:
        self._find_events = find_events
        self._chunks: list[bytes] = []
        self._size = 0
        self._limit = limit

    def feed(self, data: bytes) -> list[WireUnit]:
        self._size += len(data)
        if self._size > self._limit:
            raise WireLimitExceeded(f"response body larger than {self._limit} bytes")
        self._chunks.append(data)
        return []

    def end(self) -> list[WireUnit]:
        raw = b"".join(self._chunks)
        return [WireUnit(raw=raw, events=self._find_events(loads(raw), raw, MESSAGE_ID))]

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        return render_json(unit.raw, unit.events, events, MESSAGE_ID).raw
