"""Server-sent events framing, incremental and sans-IO.

A stream is cut into events at blank lines whatever the chunking, so a guard always sees whole events even
when the network splits one across reads (mitmproxy's warning about matching across chunks). Each unit keeps
its exact bytes, terminator included, so an event nobody changed is forwarded as it came.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE = re.compile(rb"\r\n|\n|\r")


class WireLimitExceeded(Exception):
    """A single wire message grew past the configured limit; it cannot be inspected, so it is refused."""


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One parsed event: its ``event:`` name (if any), its joined ``data:`` lines, and its raw bytes."""

    raw: bytes
    event: str | None
    data: bytes | None


def parse_event(raw: bytes) -> SseEvent:
    """Parse the fields of one event (``raw`` may include its terminating blank line)."""
    name: str | None = None
    data_lines: list[bytes] = []
    for line in _LINE.split(raw):
        if not line or line.startswith(b":"):
            continue
        field, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data_lines.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    return SseEvent(raw=raw, event=name, data=b"\n".join(data_lines) if data_lines else None)


class SseSplitter:
    """Cuts a byte stream into complete events; bounded by ``max_event_bytes``.

    A partial event is kept in a growing buffer and only its new bytes are searched for a boundary, so an
    event arriving in thousands of small chunks costs linear time, not quadratic.
    """

    __slots__ = ("_buffer", "_max")

    def __init__(self, max_event_bytes: int) -> None:
        self._buffer = bytearray()
        self._max = max_event_bytes

    def feed(self, data: bytes) -> list[SseEvent]:
        buffer: bytes | bytearray = data
        search_from = 0
        if self._buffer:
            # A boundary is at most 4 bytes long, so none can start before the last 3 bytes already searched.
            search_from = max(0, len(self._buffer) - 3)
            self._buffer += data
            buffer = self._buffer
        events: list[SseEvent] = []
        start = 0
        for match in _BOUNDARY.finditer(buffer, search_from):
            end = match.end()
            events.append(parse_event(bytes(buffer[start:end])))
            start = end
        if buffer is data:
            self._buffer = bytearray(data[start:])
        elif start:
            del self._buffer[:start]
        if len(self._buffer) > self._max:
            raise WireLimitExceeded(f"server-sent event larger than {self._max} bytes")
        return events

    def end(self) -> list[SseEvent]:
        """The stream closed; a trailing event without its blank line is still an event."""
        tail, self._buffer = bytes(self._buffer), bytearray()
        if not tail.strip():
            return [SseEvent(raw=tail, event=None, data=None)] if tail else []
        return [parse_event(tail)]


def format_event(data: bytes, event: str | None = None, newline: bytes = b"\n") -> bytes:
    """Render a new event (for text that voiceguard itself injects into a stream)."""
    head = b"event: " + event.encode() + newline if event else b""
    lines = b"".join(b"data: " + line + newline for line in data.split(b"\n"))
    return head + lines + newline


def line_ending(raw: bytes) -> bytes:
    """The line ending a stream uses, so injected events match their neighbours."""
    return b"\r\n" if b"\r\n" in raw else b"\n"


def replace_data(event: SseEvent, data: bytes, newline: bytes = b"\n") -> bytes:
    """The event with its ``data`` replaced, every other byte (``event:`` line, ids, spacing) kept."""
    original = event.data or b""
    if original and b"\n" not in original and event.raw.count(original) == 1:
        return event.raw.replace(original, data, 1)
    return format_event(data, event.event, newline)
