"""Newline-delimited JSON framing, incremental and sans-IO: one unit per line, terminator kept."""

from __future__ import annotations

from voiceguard.protocols.sse import WireLimitExceeded


class LineSplitter:
    __slots__ = ("_buffer", "_max")

    def __init__(self, max_line_bytes: int) -> None:
        self._buffer = b""
        self._max = max_line_bytes

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        lines: list[bytes] = []
        start = 0
        while (end := buffer.find(b"\n", start)) != -1:
            lines.append(buffer[start : end + 1])
            start = end + 1
        self._buffer = buffer[start:]
        if len(self._buffer) > self._max:
            raise WireLimitExceeded(f"line larger than {self._max} bytes")
        return lines

    def end(self) -> list[bytes]:
        tail, self._buffer = self._buffer, b""
        return [tail] if tail else []
