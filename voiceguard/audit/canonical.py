"""Canonical JSON for audit records: one byte string per value, so a hash means the same thing everywhere.

This is RFC 8785 (JCS) for the value types audit records use: objects with keys sorted by UTF-16 code units,
no whitespace, strings escaped minimally (``"``, ``\\`` and control characters only, lower-case ``\\u00xx``),
UTF-8 output, and integers. Floating-point numbers are refused rather than approximated: JCS formats them
the ECMAScript way, which Python's ``repr`` does not match for every value, and a record whose bytes differ
between two implementations cannot be verified. Durations are therefore integer microseconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final, TypeAlias

JsonValue: TypeAlias = "str | int | bool | Sequence[JsonValue] | Mapping[str, JsonValue] | None"

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Beyond this an integer does not survive a JavaScript or I-JSON reader unchanged (RFC 8785 §3.2.2.3)."""

_ENCODE_STRING = json.JSONEncoder(ensure_ascii=False).encode


class NotCanonical(ValueError):
    """The value cannot be written as canonical audit JSON (a float, a huge integer, a non-string key)."""


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _write(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise NotCanonical(f"integer {value} is outside the interoperable range ±(2**53-1)")
        out.append(str(int(value)))
    elif isinstance(value, float):
        raise NotCanonical("floating-point numbers are not allowed in audit records; use integers")
    elif isinstance(value, Mapping):
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise NotCanonical(f"object keys must be strings, got {type(key).__name__}")
        out.append("{")
        for index, key in enumerate(sorted(keys, key=_utf16_key)):
            if index:
                out.append(",")
            out.append(_encode_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise NotCanonical(f"{type(value).__name__} cannot be written as audit JSON")


def _encode_string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NotCanonical("strings must be valid Unicode (no lone surrogates)") from exc
    encoded: str = _ENCODE_STRING(text)
    return encoded


def canonical(value: object) -> str:
    """The canonical JSON text of ``value``."""
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def canonical_bytes(value: object) -> bytes:
    return canonical(value).encode("utf-8")


def format_time(time_us: int) -> str:
    """RFC 3339 UTC with microseconds, the one time format in audit records."""
    moment = datetime.fromtimestamp(time_us // 1_000_000, tz=UTC).replace(microsecond=time_us % 1_000_000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
