"""Event handlers shared by OpenAI's two event streams: Responses (SSE) and Realtime (WebSocket).

Both name their events the same way (``response.output_text.delta``, ``response.output_item.added``,
``response.function_call_arguments.done``...) with the same fields, so one handler serves both tables. A
handler takes the stream's context (only its ``StreamShapes`` is read), the parsed event and its message
identity.
A known event missing the field it exists for is a ``WireAnomaly``, forwarded untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from voiceguard.events import AgentText, Event, TextDelta, ToolCall, Transcript, WireAnomaly
from voiceguard.protocols.jsonunit import JsonOrigin
from voiceguard.protocols.openai_common import item_events, part_event, upstream_error
from voiceguard.protocols.wirejson import as_str

MAX_SHAPES: Final = 64
"""Streams whose last delta shape is kept; the oldest is forgotten first."""


class StreamShapes:
    """The shape of each text stream's last delta, so text a guard releases later can follow it."""

    __slots__ = ("_keys", "_shapes")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._keys = keys
        self._shapes: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._shapes)

    def remember(self, stream: str, body: dict[str, Any]) -> None:
        if stream not in self._shapes and len(self._shapes) >= MAX_SHAPES:
            self._shapes.pop(next(iter(self._shapes)))
        self._shapes[stream] = {key: body[key] for key in self._keys if key in body}

    def get(self, stream: str) -> dict[str, Any] | None:
        return self._shapes.get(stream)


class HasShapes(Protocol):
    @property
    def shapes(self) -> StreamShapes: ...


Maker = Callable[[str, str, JsonOrigin], Event]
TextHandler = Callable[[HasShapes, dict[str, Any], int], list[Event]]


def missing(body: dict[str, Any]) -> list[Event]:
    return [WireAnomaly("missing_field", str(body.get("type"))[:64])]


def text(
    key: str, make: Maker, remember: bool = False
) -> Callable[[HasShapes, dict[str, Any], int], list[Event]]:
    """A text-bearing event: its ``key`` field, in the stream named by its item (or response)."""

    def handle(context: HasShapes, body: dict[str, Any], message: int) -> list[Event]:
        value = body.get(key)
        if not isinstance(value, str):
            return missing(body)
        stream = as_str(body.get("item_id")) or as_str(body.get("response_id")) or ""
        if remember:
            context.shapes.remember(stream, body)
        return [make(value, stream, JsonOrigin(message, (key,)))]

    return handle


def arguments(complete: bool) -> Callable[[object, dict[str, Any], int], list[Event]]:
    """``function_call_arguments.delta`` (a fragment) or ``.done`` (the whole arguments)."""

    def handle(context: object, body: dict[str, Any], message: int) -> list[Event]:
        key = "arguments" if complete else "delta"
        value = body.get(key)
        if not isinstance(value, str):
            return missing(body)
        stream = as_str(body.get("item_id")) or ""
        call_id, name = as_str(body.get("call_id")), as_str(body.get("name"))
        return [ToolCall(name, value, call_id, complete, stream, JsonOrigin(message, (key,)))]

    return handle


def output_item(context: object, body: dict[str, Any], message: int) -> list[Event]:
    return item_events(body.get("item"), ("item",), message, from_client=False)


def content_part(context: object, body: dict[str, Any], message: int) -> list[Event]:
    return part_event(body.get("part"), ("part",), message, as_str(body.get("item_id")) or "")


def error(context: object, body: dict[str, Any], message: int) -> list[Event]:
    return [upstream_error(body)]


def partial(value: str, stream: str, origin: JsonOrigin) -> Event:
    return Transcript(value, is_final=False, stream=stream, origin=origin)


def final(value: str, stream: str, origin: JsonOrigin) -> Event:
    return Transcript(value, is_final=True, stream=stream, origin=origin)


def delta(value: str, stream: str, origin: JsonOrigin) -> Event:
    return TextDelta(value, stream, origin)


def spoken(value: str, stream: str, origin: JsonOrigin) -> Event:
    return AgentText(value, stream, spoken=True, origin=origin)


def written(value: str, stream: str, origin: JsonOrigin) -> Event:
    return AgentText(value, stream, origin=origin)
