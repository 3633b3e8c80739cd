"""Canonical JSON for audit records: one byte string per value, so a hash means the same thing everywhere.

This is RFC 8785 (JCS) for the value types audit records use: objects with keys sorted by UTF-16 code units,
no whitespace, strings escaped minimally (``"``, ``\\`` and control characters only, lower-case ``\\u00xx``),
UTF-8 output, and integers. Floating-point numbers are refused rather than approximated: JCS formats them
the ECMAScript way, which Python's ``repr`` does not match for every value, and a record whose bytes differ
between two implementations cannot be verified. Durations are therefore integer microseconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final, TypeAlias

JsonValue: TypeAlias = "str | int | bool | Sequence[JsonValue] | Mapping[str, JsonValue] | None"

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Beyond this an integer does not survive a JavaScript or I-JSON reader unchanged (RFC 8785 §3.2.2.3)."""

_encode_string: Callable[[str], str] = json.encoder.encode_basestring
"""The C string escaper behind ``ensure_ascii=False``: escapes exactly what RFC 8785 escapes."""


class NotCanonical(ValueError):
    """The value cannot be written as canonical audit JSON (a float, a huge integer, a non-string key)."""


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _sorted_keys(keys: list[str]) -> list[str]:
    # Code-point order equals UTF-16 order unless a key holds characters above U+FFFF; ASCII is the norm.
    if "".join(keys).isascii():
        return sorted(keys)
    return sorted(keys, key=_utf16_key)


def _write(value: object, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_encode_string(value))  # type: ignore[arg-type]
    elif kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # type: ignore[operator]
            raise NotCanonical(f"integer {value} is outside the interoperable range ±(2**53-1)")
        out.append(str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Mapping):
        keys = list(value)
        for key in keys:
            if type(key) is not str:
                raise NotCanonical(f"object keys must be strings, got {type(key).__name__}")
        out.append("{")
        first = True
        for key in _sorted_keys(keys):
            if not first:
                out.append(",")
            first = False
            out.append(_encode_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, str):  # a str subclass, e.g. a StrEnum member
        out.append(_encode_string(str.__str__(value)))
    elif isinstance(value, float):
        raise NotCanonical("floating-point numbers are not allowed in audit records; use integers")
    elif isinstance(value, int):  # an int subclass (IntEnum), not bool: bool was handled above
        _write(int(value), out)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise NotCanonical(f"{type(value).__name__} cannot be written as audit JSON")


def canonical(value: object) -> str:
    """The canonical JSON text of ``value``."""
    out: list[str] = []
    _write(value, out)
    text = "".join(out)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NotCanonical("strings must be valid Unicode (no lone surrogates)") from exc
    return text


def canonical_string(text: str) -> str:
    """The canonical JSON of one string (the common case, without walking a structure)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NotCanonical("strings must be valid Unicode (no lone surrogates)") from exc
    return _encode_string(text)


def canonical_bytes(value: object) -> bytes:
    return canonical(value).encode("utf-8")


def format_time(time_us: int) -> str:
    """RFC 3339 UTC with microseconds, the one time format in audit records."""
    seconds, micros = divmod(time_us, 1_000_000)
    t = time.gmtime(seconds)
    date = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return f"{date}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{micros:06d}Z"


def parse_time(text: str) -> int:
    """Microseconds since the epoch from an RFC 3339 / ISO 8601 time (a date alone means its midnight UTC).

    A time without an offset is taken as UTC, so the same command gives the same range on every machine.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-23 or 2026-11-23T10:00:00Z)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
