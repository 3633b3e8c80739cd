"""Newline-delimited JSON framing, incremental and sans-IO: one unit per line, terminator kept."""

from __future__ import annotations

from voiceguard.protocols.sse import WireLimitExceeded


class LineSplitter:
    """Cuts a byte stream into lines; a partial line is searched only where it grew (linear time)."""

    __slots__ = ("_buffer", "_max")

    def __init__(self, max_line_bytes: int) -> None:
        self._buffer = bytearray()
        self._max = max_line_bytes

    def feed(self, data: bytes) -> list[bytes]:
        buffer: bytes | bytearray = data
        search_from = 0
        if self._buffer:
            search_from = len(self._buffer)
            self._buffer += data
            buffer = self._buffer
        lines: list[bytes] = []
        start = 0
        while (end := buffer.find(b"\n", max(start, search_from))) != -1:
            lines.append(bytes(buffer[start : end + 1]))
            start = end + 1
        if buffer is data:
            self._buffer = bytearray(data[start:])
        elif start:
            del self._buffer[:start]
        if len(self._buffer) > self._max:
            raise WireLimitExceeded(f"line larger than {self._max} bytes")
        return lines

    def end(self) -> list[bytes]:
        tail, self._buffer = bytes(self._buffer), bytearray()
        return [tail] if tail else []
