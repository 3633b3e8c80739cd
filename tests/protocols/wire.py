"""Helpers for adapter tests: feed recorded bytes in awkward chunks, rewrite events like a guard would."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from voiceguard.events import Event
from voiceguard.protocols.base import RequestHead, StreamCodec, WireUnit


def head(method: str, path: str, query: dict[str, str] | None = None, **headers: str) -> RequestHead:
    return RequestHead(
        method, path, MultiDictProxy(MultiDict(query or {})), CIMultiDictProxy(CIMultiDict(headers))
    )


def units_of(codec: StreamCodec, data: bytes, chunk: int = 37) -> list[WireUnit]:
    units: list[WireUnit] = []
    for offset in range(0, len(data), chunk):
        units.extend(codec.feed(data[offset : offset + chunk]))
    units.extend(codec.end())
    return units


def events_of(units: Sequence[WireUnit]) -> list[Event]:
    return [event for unit in units for event in unit.events]


def replaced(events: Sequence[Event], old: str, new: str) -> list[Event]:
    """What a redacting guard returns: every text or argument containing ``old`` rewritten."""
    out: list[Event] = []
    for event in events:
        for field in ("text", "arguments"):
            value = getattr(event, field, None)
            if isinstance(value, str) and old in value:
                event = dataclasses.replace(event, **{field: value.replace(old, new)})  # type: ignore[type-var]
        out.append(event)
    return out


def render_all(codec: StreamCodec, units: Sequence[WireUnit], old: str, new: str) -> bytes:
    return b"".join(
        codec.render(unit, replaced(unit.events, old, new)) if unit.events else unit.raw for unit in units
    )
