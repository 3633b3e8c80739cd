"""Rendering the guards' output back into a JSON wire message, shared by the JSON-speaking adapters.

An adapter gives every text-bearing event it parses an origin: the ``JsonPath`` of the field the text came
from. After the guards, each original event is looked up in their output by that origin: a changed text is
spliced into the original bytes at its path, a missing event (held back by a guard) leaves an empty string,
and events without an origin of this message (injected by a guard) are handed back to the adapter, split
into those that go before the message and those that go after, for it to write as new messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voiceguard.events import BiometricRequest, Event, ToolCall
from voiceguard.protocols import jsonspan
from voiceguard.protocols.jsonspan import JsonPath


@dataclass(frozen=True, slots=True)
class JsonOrigin:
    """Where a text came from: a path inside one particular wire message (``message`` is its identity)."""

    message: int
    path: JsonPath


def payload(event: Event) -> str | None:
    """The text of an event as it sits on the wire (tool calls carry their arguments)."""
    if isinstance(event, ToolCall):
        return event.arguments
    text = getattr(event, "text", None)
    return text if isinstance(text, str) else None


@dataclass(slots=True)
class JsonRender:
    """The re-rendered message and the injected events the adapter must write around it."""

    raw: bytes
    before: list[Event]
    after: list[Event]


@dataclass(frozen=True, slots=True)
class SpanOrigin:
    """Where a text came from in a message that is not JSON (a form field, a subtitle cue, a plain body):
    the ``index``-th text span the adapter found in message ``message``."""

    message: int
    index: int


def changed_texts(
    originals: Sequence[Event], out: Sequence[Event], message: int, origin_type: type
) -> tuple[list[tuple[object, str]], list[Event], list[Event]]:
    """Match the guards' output to the originals of one message by origin.

    Returns the changed texts as (origin, new text) — a held-back event becomes an empty text — and the
    injected events that go before and after the message.
    """
    by_origin: dict[object, Event] = {}
    before: list[Event] = []
    after: list[Event] = []
    seen_own = False
    for event in out:
        origin = getattr(event, "origin", None)
        if isinstance(origin, origin_type) and getattr(origin, "message", None) == message:
            by_origin[origin] = event
            seen_own = True
        elif any(event is original for original in originals):
            seen_own = True  # an event without a path (metadata) that the guards passed on
        elif seen_own:
            after.append(event)
        else:
            before.append(event)
    changed: list[tuple[object, str]] = []
    for original in originals:
        origin = getattr(original, "origin", None)
        if not isinstance(origin, origin_type) or getattr(origin, "message", None) != message:
            continue
        if isinstance(original, BiometricRequest):
            continue
        replacement = by_origin.get(origin)
        old = payload(original)
        new = payload(replacement) if replacement is not None else ""
        if new is not None and new != old:
            changed.append((origin, new))
    return changed, before, after


def render_json(raw: bytes, originals: Sequence[Event], out: Sequence[Event], message: int) -> JsonRender:
    """Apply the guards' output ``out`` for a message parsed into ``originals`` to its bytes ``raw``."""
    changed, before, after = changed_texts(originals, out, message, JsonOrigin)
    edits: list[tuple[JsonPath, object]] = [
        (origin.path, new) for origin, new in changed if isinstance(origin, JsonOrigin)
    ]
    body = jsonspan.edit(raw, edits) if edits else raw
    return JsonRender(body, before, after)
