"""Defensive reading of vendor JSON: wrong types and broken messages are facts to count, never crashes.

Every adapter reads untrusted messages; these helpers turn "not what the protocol says" into ``None`` or
empty containers, so a parser walks any input without ``isinstance`` ladders, and tell a malformed message
(which is forwarded untouched and counted as a ``WireAnomaly``) from a valid one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from voiceguard.events import WireAnomaly
from voiceguard.protocols.base import WireUnit

MALFORMED: Final = object()
"""What ``loads`` returns for bytes that are not JSON."""


def loads(raw: bytes | str) -> Any:
    """The parsed JSON, or ``MALFORMED``."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return MALFORMED


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def key_of(mapping: Mapping[str, Any], *spellings: str) -> str | None:
    """The first spelling of a key present in ``mapping`` (protobuf JSON accepts camelCase and snake_case)."""
    for spelling in spellings:
        if spelling in mapping:
            return spelling
    return None


_ALPHABETS: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"


def b64_size(value: object) -> int | None:
    """The decoded size of a base64 string, or ``None`` when it is not valid base64.

    Both alphabets are accepted, as protobuf JSON does (the google-genai SDK sends URL-safe base64), with
    or without padding. The check is a C-level scan for foreign characters, about ten times cheaper than
    decoding audio that voiceguard would drop at once anyway (audio never leaves the adapter).
    """
    if not isinstance(value, str) or not value.isascii():
        return None
    body = value.rstrip("=")
    padding = len(value) - len(body)
    if padding > 2 or body.encode("ascii").translate(None, _ALPHABETS) or len(body) % 4 == 1:
        return None
    if padding and len(value) % 4:
        return None
    return len(body) * 3 // 4


def anomaly_unit(provider: str, body: object, raw: bytes, binary: bool = False) -> WireUnit:
    """The unit for a message that is not a JSON object: forwarded as it came, counted as an anomaly."""
    reason = "bad_json" if body is MALFORMED else "not_an_object"
    return WireUnit(raw=raw, events=[WireAnomaly(reason)], binary=binary)
