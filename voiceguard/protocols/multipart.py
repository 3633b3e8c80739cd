"""``multipart/form-data`` bodies (RFC 7578), read in place: where each part's value sits in the bytes.

An upload is mostly audio: parts are located, never copied, and a text field a guard changed is spliced
into the original bytes, so the boundary, headers and every other part stay exactly as the client sent them.
A part a guard took out (an option it stripped) is cut with its delimiter and headers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

_BOUNDARY: Final = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_NAME: Final = re.compile(rb'(?:^|;)\s*name="((?:[^"\\]|\\.)*)"', re.IGNORECASE)
_FILENAME: Final = re.compile(rb'(?:^|;)\s*filename="((?:[^"\\]|\\.)*)"', re.IGNORECASE)
MAX_PARTS: Final = 256


@dataclass(frozen=True, slots=True)
class Part:
    """One part: its form name, file name and content type, and the byte span of its value."""

    name: str | None
    filename: str | None
    content_type: str | None
    start: int
    end: int
    block_start: int = 0
    """Where the part's delimiter line begins: ``body[block_start:end + 2]`` is the whole part."""


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/form-data`` content type, or ``None`` for anything else."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    return (match.group(1) or match.group(2)).encode("latin-1")


def _header_value(headers: bytes, name: bytes) -> bytes | None:
    for line in headers.split(b"\r\n"):
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return None


def parse(body: bytes, boundary: bytes) -> list[Part] | None:
    """The parts of ``body``; ``None`` when it is not well-formed multipart with that boundary."""
    delimiter = b"--" + boundary
    if body.startswith(delimiter):
        position = 0
    else:
        found = body.find(b"\r\n" + delimiter)
        if found < 0:
            return None
        position = found + 2
    parts: list[Part] = []
    while len(parts) <= MAX_PARTS:
        block_start = position
        position += len(delimiter)
        if body.startswith(b"--", position):
            return parts
        if not body.startswith(b"\r\n", position):
            return None
        headers_end = body.find(b"\r\n\r\n", position + 2)
        if headers_end < 0:
            return None
        headers = body[position + 2 : headers_end]
        value_start = headers_end + 4
        value_end = body.find(b"\r\n" + delimiter, value_start)
        if value_end < 0:
            return None
        disposition = _header_value(headers, b"content-disposition") or b""
        name = _NAME.search(disposition)
        filename = _FILENAME.search(disposition)
        content_type = _header_value(headers, b"content-type")
        parts.append(
            Part(
                name=name.group(1).decode("utf-8", "replace") if name else None,
                filename=filename.group(1).decode("utf-8", "replace") if filename else None,
                content_type=content_type.decode("latin-1") if content_type else None,
                start=value_start,
                end=value_end,
                block_start=block_start,
            )
        )
        position = value_end + 2
    return None


def replace(body: bytes, edits: Sequence[tuple[Part, bytes]], removed: Sequence[Part] = ()) -> bytes:
    """``body`` with the values of the given parts replaced and the ``removed`` parts cut out whole; every
    other byte is kept. A part both edited and removed is removed."""
    gone = {part.start for part in removed}
    changes: list[tuple[int, int, bytes]] = [(p.block_start, p.end + 2, b"") for p in removed]
    changes += [(part.start, part.end, value) for part, value in edits if part.start not in gone]
    out = bytearray()
    cursor = 0
    for start, end, value in sorted(changes):
        out += body[cursor:start]
        out += value
        cursor = end
    out += body[cursor:]
    return bytes(out)
