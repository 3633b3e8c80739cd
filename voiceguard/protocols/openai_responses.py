"""OpenAI Responses API (``POST /v1/responses``): request, JSON reply and streamed events.

Facts: REFERENCE-protocols.md §2. A request's texts are ``instructions`` and ``input`` (a string, or items:
messages whose content is a string or parts, earlier function calls and their outputs). A streamed reply is
``event: <type>`` + ``data: {"type": <type>, "sequence_number": n, ...}``; deltas name their ``item_id``,
and the closing ``response.completed``/``failed``/``incomplete`` repeats the whole output with its usage,
so its texts are events too (a guard that rewrote the deltas must see the summary). Unknown event types
(the API adds tool events often) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

from voiceguard.events import (
    AudioChunk,
    Direction,
    Event,
    LLMRequest,
    PromptText,
    ResponseDone,
    ResponseStarted,
    Stage,
    TextDelta,
    TextRole,
    UpstreamError,
)
from voiceguard.protocols import sse
from voiceguard.protocols.audioformat import base64_decoded_size
from voiceguard.protocols.base import ExchangeInfo, StreamCodec
from voiceguard.protocols.jsoncodecs import BufferedBodyCodec, JsonApiCodec, JsonSseCodec
from voiceguard.protocols.jsonunit import JsonOrigin
from voiceguard.protocols.openai_common import PROVIDER, item_events, token_usage, tool_names
from voiceguard.protocols.openai_events import (
    StreamShapes,
    arguments,
    content_part,
    delta,
    error,
    output_item,
    spoken,
    text,
    written,
)
from voiceguard.protocols.wirejson import as_dict, as_list, as_str

RESPONSES: Final = ExchangeInfo(provider=PROVIDER, operation="responses", stage=Stage.LLM)


def request_events(body: dict[str, Any] | None, message: int) -> list[Event]:
    """The texts of a Responses request, each with its path."""
    if body is None:
        return []
    items = body.get("input")
    events: list[Event] = [
        LLMRequest(
            model=as_str(body.get("model")),
            stream=body.get("stream") is True,
            message_count=len(items) if isinstance(items, list) else 1,
            tool_names=tool_names(body.get("tools")),
        )
    ]
    if isinstance(body.get("instructions"), str):
        origin = JsonOrigin(message, ("instructions",))
        events.append(PromptText(body["instructions"], TextRole.INSTRUCTIONS, origin))
    if isinstance(items, str):
        events.append(PromptText(items, TextRole.USER, JsonOrigin(message, ("input",))))
    for index, item in enumerate(as_list(items)):
        events.extend(item_events(item, ("input", index), message, from_client=True))
    return events


def response_events(response: dict[str, Any], path: tuple[str, ...], message: int) -> list[Event]:
    """A whole response object (a JSON reply, or a stream's closing event): output, usage, status."""
    model = as_str(response.get("model"))
    events: list[Event] = []
    for index, item in enumerate(as_list(response.get("output"))):
        events.extend(item_events(item, (*path, "output", index), message, from_client=False))
    if isinstance(response.get("usage"), dict):
        events.append(token_usage(response["usage"], model))
    reason = as_str(as_dict(response.get("incomplete_details")).get("reason"))
    status = as_str(response.get("status")) or "completed"
    events.append(ResponseDone(as_str(response.get("id")), status, reason))
    return events


class ResponseJsonCodec(BufferedBodyCodec):
    """A complete (non-streamed) response object."""

    def parse_json(self, body: dict[str, Any], message: int) -> list[Event]:
        started = ResponseStarted(as_str(body.get("id")), as_str(body.get("model")))
        return [started, *response_events(body, (), message)]


def _created(codec: ResponseStreamCodec, body: dict[str, Any], message: int) -> list[Event]:
    response = as_dict(body.get("response"))
    codec.model = as_str(response.get("model"))
    return [ResponseStarted(as_str(response.get("id")), codec.model)]


def _finished(codec: ResponseStreamCodec, body: dict[str, Any], message: int) -> list[Event]:
    codec.finished = True
    response = as_dict(body.get("response"))
    events = response_events(response, ("response",), message)
    error = response.get("error")
    if isinstance(error, dict):
        events.insert(0, UpstreamError(as_str(error.get("code")), "", as_str(error.get("type"))))
    return events


def _audio(codec: ResponseStreamCodec, body: dict[str, Any], message: int) -> list[Event]:
    size = base64_decoded_size(body["delta"]) if isinstance(body.get("delta"), str) else None
    return [AudioChunk(Direction.TO_CLIENT, size)] if size is not None else []


_PARSERS: Final[dict[str, Callable[[ResponseStreamCodec, dict[str, Any], int], list[Event]]]] = {
    "response.created": _created,
    "response.output_item.added": output_item,
    "response.output_item.done": output_item,
    "response.content_part.added": content_part,
    "response.content_part.done": content_part,
    "response.output_text.delta": text("delta", delta, remember=True),
    "response.output_text.done": text("text", written),
    "response.refusal.delta": text("delta", delta, remember=True),
    "response.refusal.done": text("refusal", written),
    "response.function_call_arguments.delta": arguments(complete=False),
    "response.function_call_arguments.done": arguments(complete=True),
    "response.audio.delta": _audio,
    "response.audio.transcript.delta": text("delta", delta, remember=True),
    "response.audio.transcript.done": text("transcript", spoken),
    "response.completed": _finished,
    "response.failed": _finished,
    "response.incomplete": _finished,
    "error": error,
}

_SHAPE_KEYS: Final = ("type", "sequence_number", "item_id", "output_index", "content_index")


class ResponseStreamCodec(JsonSseCodec):
    """The SSE stream of a response: one unit per event."""

    def __init__(self) -> None:
        super().__init__()
        self.model: str | None = None
        self.finished = False
        self.shapes = StreamShapes(_SHAPE_KEYS)

    def parse(self, body: dict[str, Any], message: int, event: sse.SseEvent) -> list[Event]:
        kind = body.get("type")
        parser = _PARSERS.get(kind) if isinstance(kind, str) else None
        return parser(self, body, message) if parser is not None else []

    def stream_ended(self) -> list[Event]:
        return [] if self.finished else [ResponseDone(None, "incomplete")]

    def inject(self, events: Sequence[Event]) -> bytes:
        out = b""
        for event in events:
            template = self.shapes.get(event.stream) if isinstance(event, TextDelta) else None
            if isinstance(event, TextDelta) and template is not None:
                body = {**template, "delta": event.text}
                out += sse.format_event(orjson.dumps(body), str(template["type"]), self.newline)
        return out


class ResponsesCodec(JsonApiCodec):
    """``POST /v1/responses``."""

    info = RESPONSES

    def parse_request(self, body: dict[str, Any] | None, message: int) -> list[Event]:
        return request_events(body, message)

    def stream_codec(self) -> StreamCodec:
        return ResponseStreamCodec()

    def json_codec(self) -> StreamCodec:
        return ResponseJsonCodec()
