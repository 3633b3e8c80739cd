"""Surgical edits of JSON text: change one value and leave every other byte exactly as it was.

Guards rewrite a transcript or a reply, and nothing else may move: re-serialising a vendor message would
change its spacing, key order, number formatting and escapes (the SDKs send ``", "`` separators and ASCII
escapes). So voiceguard locates the byte span of the value at a path and splices in the new value only.
Scanning uses compiled regular expressions, so skipping a large base64 string costs one C-level match.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

JsonPath = tuple[str | int, ...]

DELETE: Final = object()
"""Edit value meaning "remove this key or array element"."""

_WS = re.compile(rb"[ \t\r\n]*")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR = re.compile(rb"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")


@dataclass(frozen=True, slots=True)
class RawJson:
    """Edit value meaning "these bytes, already valid JSON": spliced as written, spacing kept."""

    text: bytes


class JsonSpanError(ValueError):
    """The text is not JSON of the expected shape at the requested path."""


def _skip_ws(raw: bytes, pos: int) -> int:
    match = _WS.match(raw, pos)
    return match.end() if match else pos


def _key_end(raw: bytes, pos: int) -> int:
    """Past an object key and its colon (and the spaces after), at the start of the member's value."""
    key = _STRING.match(raw, pos)
    if not key:
        raise JsonSpanError(f"expected a key at {pos}")
    pos = _skip_ws(raw, key.end())
    if raw[pos : pos + 1] != b":":
        raise JsonSpanError(f"expected ':' at {pos}")
    return _skip_ws(raw, pos + 1)


def _value_end(raw: bytes, pos: int) -> int:
    """Return the index just past the JSON value starting at ``pos``.

    Iterative, with the open containers on a list: a message nested a thousand deep (which the JSON parser
    still accepts) must not exhaust Python's recursion limit in the middle of a request.
    """
    closers: list[bytes] = []
    while True:
        char = raw[pos : pos + 1]
        if char == b'"':
            match = _STRING.match(raw, pos)
            if not match:
                raise JsonSpanError(f"unterminated string at {pos}")
            pos = match.end()
        elif char == b"{" or char == b"[":
            closing = b"}" if char == b"{" else b"]"
            pos = _skip_ws(raw, pos + 1)
            if raw[pos : pos + 1] == closing:
                pos += 1
            else:
                closers.append(closing)
                if char == b"{":
                    pos = _key_end(raw, pos)
                continue
        else:
            match = _SCALAR.match(raw, pos)
            if not match:
                raise JsonSpanError(f"unexpected {char!r} at {pos}")
            pos = match.end()
        # A value ended at ``pos``: close the containers it ends, or move on to the next member.
        while closers:
            pos = _skip_ws(raw, pos)
            separator = raw[pos : pos + 1]
            if separator == b",":
                pos = _skip_ws(raw, pos + 1)
                if closers[-1] == b"}":
                    pos = _key_end(raw, pos)
                break
            if separator == closers[-1]:
                closers.pop()
                pos += 1
            else:
                raise JsonSpanError(f"expected ',' or {closers[-1]!r} at {pos}")
        else:
            return pos


def _members(raw: bytes, start: int) -> list[tuple[str | int, int, int, int]]:
    """The members of the object or array at ``start``: (key or index, member start, value start, end)."""
    opening = raw[start : start + 1]
    if opening not in (b"{", b"["):
        raise JsonSpanError(f"expected an object or array at {start}")
    members: list[tuple[str | int, int, int, int]] = []
    closing = b"}" if opening == b"{" else b"]"
    pos = _skip_ws(raw, start + 1)
    if raw[pos : pos + 1] == closing:
        return members
    index = 0
    while True:
        member_start = pos
        key: str | int
        if opening == b"{":
            match = _STRING.match(raw, pos)
            if not match:
                raise JsonSpanError(f"expected a key at {pos}")
            key = orjson.loads(match.group())
            pos = _skip_ws(raw, match.end())
            if raw[pos : pos + 1] != b":":
                raise JsonSpanError(f"expected ':' at {pos}")
            pos = _skip_ws(raw, pos + 1)
        else:
            key = index
            index += 1
        end = _value_end(raw, pos)
        members.append((key, member_start, pos, end))
        pos = _skip_ws(raw, end)
        separator = raw[pos : pos + 1]
        if separator == b",":
            pos = _skip_ws(raw, pos + 1)
        elif separator == closing:
            return members
        else:
            raise JsonSpanError(f"expected ',' or {closing!r} at {pos}")


def _locate(raw: bytes, path: JsonPath) -> tuple[int, int, int, list[tuple[str | int, int, int, int]]]:
    """Find the value at ``path``: (value start, value end, its index among siblings, the siblings)."""
    start = _skip_ws(raw, 0)
    siblings: list[tuple[str | int, int, int, int]] = []
    position = -1
    end = _value_end(raw, start)
    for step in path:
        siblings = _members(raw, start)
        for index, (key, _member_start, value_start, value_end) in enumerate(siblings):
            if key == step:
                start, end, position = value_start, value_end, index
                break
        else:
            raise JsonSpanError(f"no member {step!r} on the path {path!r}")
    return start, end, position, siblings


def find(raw: bytes, path: JsonPath) -> tuple[int, int]:
    """The byte span ``[start, end)`` of the value at ``path``."""
    start, end, _position, _siblings = _locate(raw, path)
    return start, end


def value_text(raw: bytes, path: JsonPath) -> str:
    """The exact text of the value at ``path`` as written (a tool's arguments object), or ``""``."""
    try:
        start, end = find(raw, path)
    except JsonSpanError:
        return ""
    return raw[start:end].decode("utf-8", "replace")


def _deletion_span(
    raw: bytes, position: int, siblings: list[tuple[str | int, int, int, int]]
) -> tuple[int, int]:
    _key, member_start, _value_start, value_end = siblings[position]
    if position + 1 < len(siblings):
        return member_start, siblings[position + 1][1]
    if position > 0:
        previous_end = siblings[position - 1][3]
        return previous_end, value_end
    return member_start, value_end


def edit(raw: bytes, edits: Sequence[tuple[JsonPath, object]]) -> bytes:
    """Apply ``(path, new value or DELETE)`` edits; every byte outside the edited spans is kept.

    Edits must not overlap (one path may not lie inside another). New values are written as compact JSON.
    """
    spans: list[tuple[int, int, bytes]] = []
    for path, value in edits:
        start, end, position, siblings = _locate(raw, path)
        if value is DELETE:
            if not path:
                raise JsonSpanError("cannot delete the document itself")
            del_start, del_end = _deletion_span(raw, position, siblings)
            spans.append((del_start, del_end, b""))
        else:
            spans.append((start, end, value.text if isinstance(value, RawJson) else orjson.dumps(value)))
    return _splice(raw, spans)


def _splice(raw: bytes, spans: list[tuple[int, int, bytes]]) -> bytes:
    """``raw`` with each ``[start, end)`` span replaced; the spans may come in any order but not overlap."""
    spans.sort()
    for (_s1, e1, _v1), (s2, _e2, _v2) in itertools.pairwise(spans):
        if s2 < e1:
            raise JsonSpanError("overlapping edits")
    out = bytearray()
    cursor = 0
    for start, end, replacement in spans:
        out += raw[cursor:start]
        out += replacement
        cursor = end
    out += raw[cursor:]
    return bytes(out)


_NO_VALUE: Final = object()


def edit_many(raw: bytes, edits: Sequence[tuple[JsonPath, object]]) -> bytes:
    """Like ``edit``, but every path is located in one walk of the document, so rewriting hundreds of words
    of a long transcript costs one pass, and several members of one container can be deleted together.

    An edit inside a value that another edit replaces or deletes is dropped (the outer edit wins).
    """
    if not edits:
        return raw
    tree: dict[str | int, list[Any]] = {}
    for path, value in edits:
        if not path:
            raise JsonSpanError("cannot edit the document itself")
        node = tree
        for step in path[:-1]:
            node = node.setdefault(step, [{}, _NO_VALUE])[0]
        node.setdefault(path[-1], [{}, _NO_VALUE])[1] = value
    spans: list[tuple[int, int, bytes]] = []
    _collect(raw, _skip_ws(raw, 0), tree, spans)
    return _splice(raw, spans)


def _collect(
    raw: bytes, start: int, tree: dict[str | int, list[Any]], spans: list[tuple[int, int, bytes]]
) -> None:
    siblings = _members(raw, start)
    found: set[str | int] = set()
    deleted: list[int] = []
    for position, (key, _member_start, value_start, value_end) in enumerate(siblings):
        entry = tree.get(key)
        if entry is None:
            continue
        found.add(key)
        children, value = entry
        if value is DELETE:
            deleted.append(position)
        elif value is not _NO_VALUE:
            spans.append((value_start, value_end, orjson.dumps(value)))
        elif children:
            _collect(raw, value_start, children, spans)
    missing = [key for key in tree if key not in found]
    if missing:
        raise JsonSpanError(f"no member {missing[0]!r} at {start}")
    spans.extend(_deletion_runs(deleted, siblings))


def _deletion_runs(
    positions: list[int], siblings: list[tuple[str | int, int, int, int]]
) -> list[tuple[int, int, bytes]]:
    """Spans removing the members at ``positions`` with their separators, consecutive ones as one run."""
    spans: list[tuple[int, int, bytes]] = []
    index = 0
    while index < len(positions):
        first = last = positions[index]
        while index + 1 < len(positions) and positions[index + 1] == last + 1:
            index += 1
            last = positions[index]
        index += 1
        if last + 1 < len(siblings):
            spans.append((siblings[first][1], siblings[last + 1][1], b""))
        elif first > 0:
            spans.append((siblings[first - 1][3], siblings[last][3], b""))
        else:
            spans.append((siblings[first][1], siblings[last][3], b""))
    return spans
