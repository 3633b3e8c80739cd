"""Anthropic Messages API (JSON and SSE), parsed into events and rendered back byte-faithfully.

Facts: docs.anthropic.com Messages and streaming pages; the ``anthropic`` SDK's types. A request's texts
are its ``system`` (a string or text blocks) and its messages' content (a string or blocks: ``text``,
``tool_use`` with an ``input`` object, ``tool_result`` with a string or text blocks). A streamed reply is
named SSE events (``message_start``, ``content_block_start/delta/stop``, ``message_delta``,
``message_stop``, ``ping``, ``error``). Thinking blocks are signed by the vendor and sent back by the
client, so they are never rewritten. Anthropic's OpenAI-compatible ``/v1/chat/completions`` is parsed as
OpenAI chat, which is what lets agent code built on the openai SDK switch to Claude by its base URL.

Usage: Anthropic's ``input_tokens`` excludes cached tokens; the shared ``Usage.input_tokens`` counts all
input (uncached + cache reads + cache writes) with ``cached_input_tokens`` the cache reads, as OpenAI does.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from voiceguard.events import (
    AgentText,
    Event,
    LLMRequest,
    PromptText,
    ResponseDone,
    ResponseStarted,
    Stage,
    TextDelta,
    TextRole,
    ToolCall,
    UpstreamError,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols import jsonspan, sse
from voiceguard.protocols.base import (
    UNCHANGED_REQUEST,
    ExchangeInfo,
    HttpCodec,
    RequestEdit,
    RequestHead,
    StreamCodec,
    WireUnit,
    WsCodec,
)
from voiceguard.protocols.bufferedjson import BufferedJsonCodec
from voiceguard.protocols.jsonspan import JsonPath
from voiceguard.protocols.jsonunit import JsonOrigin, JsonValueOrigin, render_json
from voiceguard.protocols.openai_rest import ChatCompletionsCodec
from voiceguard.protocols.wirejson import MALFORMED, as_dict, as_int, as_list, as_str, loads

PROVIDER: Final = "anthropic"
MESSAGES = ExchangeInfo(provider=PROVIDER, operation="messages", stage=Stage.LLM)
COUNT_TOKENS = ExchangeInfo(provider=PROVIDER, operation="count_tokens", stage=Stage.OTHER)
COMPAT_CHAT = ExchangeInfo(provider=PROVIDER, operation="chat", stage=Stage.LLM)
MAX_SSE_EVENT_BYTES: Final = 16 * 1024 * 1024


def _role(value: object) -> TextRole:
    return TextRole.ASSISTANT if value == "assistant" else TextRole.USER


def usage_event(usage: Mapping[str, Any], model: str | None) -> Usage:
    uncached = as_int(usage.get("input_tokens"))
    cache_read = as_int(usage.get("cache_read_input_tokens"))
    cache_write = as_int(usage.get("cache_creation_input_tokens"))
    parts = [value for value in (uncached, cache_read, cache_write) if value is not None]
    return Usage(
        model=model,
        input_tokens=sum(parts) if parts else None,
        output_tokens=as_int(usage.get("output_tokens")),
        cached_input_tokens=cache_read,
    )


def _block_events(blocks: list[Any], base: JsonPath, role: TextRole, raw: bytes, message: int) -> list[Event]:
    events: list[Event] = []
    for index, block in enumerate(blocks):
        block = as_dict(block)
        kind = block.get("type")
        path: JsonPath = (*base, index)
        if kind == "text" and isinstance(block.get("text"), str):
            events.append(PromptText(block["text"], role, JsonOrigin(message, (*path, "text"))))
        elif kind == "tool_use" and "input" in block:
            origin = JsonValueOrigin(message, (*path, "input"))
            events.append(PromptText(jsonspan.value_text(raw, origin.path), TextRole.ASSISTANT, origin))
        elif kind == "tool_result":
            content = block.get("content")
            if isinstance(content, str):
                events.append(PromptText(content, TextRole.TOOL, JsonOrigin(message, (*path, "content"))))
            else:
                events.extend(
                    _block_events(as_list(content), (*path, "content"), TextRole.TOOL, raw, message)
                )
    return events


def request_events(body: Any, raw: bytes, message: int) -> list[Event]:
    """The texts of a Messages request, each with the path it came from."""
    if body is MALFORMED:
        return [WireAnomaly("bad_json")]
    if not isinstance(body, dict):
        return [WireAnomaly("not_an_object")]
    messages = as_list(body.get("messages"))
    tool_names = tuple(
        name for tool in as_list(body.get("tools")) if (name := as_str(as_dict(tool).get("name"))) is not None
    )
    events: list[Event] = [
        LLMRequest(
            model=as_str(body.get("model")),
            stream=body.get("stream") is True,
            message_count=len(messages),
            tool_names=tool_names,
        )
    ]
    system = body.get("system")
    if isinstance(system, str):
        events.append(PromptText(system, TextRole.SYSTEM, JsonOrigin(message, ("system",))))
    else:
        events.extend(_block_events(as_list(system), ("system",), TextRole.SYSTEM, raw, message))
    for index, item in enumerate(messages):
        item = as_dict(item)
        role = _role(item.get("role"))
        content = item.get("content")
        if isinstance(content, str):
            events.append(PromptText(content, role, JsonOrigin(message, ("messages", index, "content"))))
        else:
            events.extend(_block_events(as_list(content), ("messages", index, "content"), role, raw, message))
    return events


def message_events(body: Any, raw: bytes, message: int) -> list[Event]:
    """The events of a complete (non-streamed) Messages reply."""
    if body is MALFORMED:
        return [WireAnomaly("bad_json")]
    if not isinstance(body, dict):
        return [WireAnomaly("not_an_object")]
    model = as_str(body.get("model"))
    response_id = as_str(body.get("id"))
    events: list[Event] = [ResponseStarted(response_id=response_id, model=model)]
    for index, block in enumerate(as_list(body.get("content"))):
        block = as_dict(block)
        stream = f"block{index}"
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            origin = JsonOrigin(message, ("content", index, "text"))
            events.append(AgentText(block["text"], stream, origin=origin))
        elif block.get("type") == "tool_use" and "input" in block:
            value_origin = JsonValueOrigin(message, ("content", index, "input"))
            events.append(
                ToolCall(
                    name=as_str(block.get("name")),
                    arguments=jsonspan.value_text(raw, value_origin.path),
                    call_id=as_str(block.get("id")),
                    stream=stream,
                    origin=value_origin,
                )
            )
    if isinstance(body.get("usage"), dict):
        events.append(usage_event(body["usage"], model))
    events.append(ResponseDone(response_id=response_id, finish_reason=as_str(body.get("stop_reason"))))
    return events


@dataclass(slots=True)
class _EventState:
    message: int
    event: sse.SseEvent


class MessagesStreamCodec:
    """The SSE stream of a Messages reply: one unit per event."""

    def __init__(self) -> None:
        self._splitter = sse.SseSplitter(MAX_SSE_EVENT_BYTES)
        self._ids = itertools.count(1)
        self._response_id: str | None = None
        self._model: str | None = None
        self._start_usage: dict[str, Any] = {}
        self._finish_reason: str | None = None
        self._usage_sent = False
        self._done = False
        self._failed = False
        self._tools: dict[int, tuple[str | None, str | None]] = {}
        self._newline = b"\n"

    def feed(self, data: bytes) -> list[WireUnit]:
        return [self._unit(event) for event in self._splitter.feed(data)]

    def end(self) -> list[WireUnit]:
        units = [self._unit(event) for event in self._splitter.end()]
        if not self._done:
            self._done = True
            events: list[Event] = []
            if self._start_usage and not self._usage_sent:
                events.append(usage_event(self._start_usage, self._model))
            status = "failed" if self._failed else "incomplete"
            events.append(ResponseDone(self._response_id, status, self._finish_reason))
            units.append(WireUnit(raw=b"", events=events))
        return units

    def _unit(self, event: sse.SseEvent) -> WireUnit:
        if event.data is None:
            return WireUnit(raw=event.raw)
        body = loads(event.data)
        if not isinstance(body, dict):
            reason = "bad_json" if body is MALFORMED else "not_an_object"
            return WireUnit(raw=event.raw, events=[WireAnomaly(reason)])
        self._newline = sse.line_ending(event.raw)
        message = next(self._ids)
        kind = as_str(body.get("type")) or event.event
        events = self._events(kind, body, message)
        return WireUnit(raw=event.raw, events=events, state=_EventState(message, event))

    def _events(self, kind: str | None, body: dict[str, Any], message: int) -> list[Event]:
        if kind == "message_start":
            start = as_dict(body.get("message"))
            self._response_id = as_str(start.get("id"))
            self._model = as_str(start.get("model"))
            self._start_usage = as_dict(start.get("usage"))
            return [ResponseStarted(self._response_id, self._model)]
        if kind == "content_block_start":
            return self._block_start(body, message)
        if kind == "content_block_delta":
            return self._block_delta(body, message)
        if kind == "message_delta":
            self._finish_reason = as_str(as_dict(body.get("delta")).get("stop_reason")) or self._finish_reason
            if isinstance(body.get("usage"), dict):
                self._usage_sent = True
                return [usage_event({**self._start_usage, **body["usage"]}, self._model)]
            return []
        if kind == "message_stop":
            self._done = True
            return [ResponseDone(self._response_id, "completed", self._finish_reason)]
        if kind == "error":
            self._failed = True
            error_type = as_str(as_dict(body.get("error")).get("type"))
            return [UpstreamError(code=error_type, message="", error_type=error_type)]
        return []

    def _block_start(self, body: dict[str, Any], message: int) -> list[Event]:
        index = as_int(body.get("index"))
        block = as_dict(body.get("content_block"))
        if index is None or not block:
            return [WireAnomaly("missing_field")]
        stream = f"block{index}"
        if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"]:
            return [TextDelta(block["text"], stream, JsonOrigin(message, ("content_block", "text")))]
        if block.get("type") == "tool_use":
            name, call_id = as_str(block.get("name")), as_str(block.get("id"))
            self._tools[index] = (name, call_id)
            return [ToolCall(name=name, arguments="", call_id=call_id, complete=False, stream=stream)]
        return []

    def _block_delta(self, body: dict[str, Any], message: int) -> list[Event]:
        index = as_int(body.get("index"))
        delta = as_dict(body.get("delta"))
        if index is None or not delta:
            return [WireAnomaly("missing_field")]
        stream = f"block{index}"
        kind = delta.get("type")
        if kind == "text_delta":
            if not isinstance(delta.get("text"), str):
                return [WireAnomaly("missing_field")]
            return [TextDelta(delta["text"], stream, JsonOrigin(message, ("delta", "text")))]
        if kind == "input_json_delta":
            if not isinstance(delta.get("partial_json"), str):
                return [WireAnomaly("missing_field")]
            name, call_id = self._tools.get(index, (None, None))
            origin = JsonOrigin(message, ("delta", "partial_json"))
            return [
                ToolCall(name, delta["partial_json"], call_id, complete=False, stream=stream, origin=origin)
            ]
        return []

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        state = unit.state
        if not isinstance(state, _EventState):
            injected = [event for event in events if not any(event is own for own in unit.events)]
            return self._render_injected(injected) + unit.raw
        data = state.event.data or b""
        rendered = render_json(data, unit.events, events, state.message)
        raw = unit.raw if rendered.raw is data else sse.replace_data(state.event, rendered.raw, self._newline)
        return self._render_injected(rendered.before) + raw + self._render_injected(rendered.after)

    def _render_injected(self, events: Sequence[Event]) -> bytes:
        """Text a guard injected (a released tail) as ``content_block_delta`` events like their neighbours."""
        out = b""
        for event in events:
            if isinstance(event, TextDelta):
                suffix = event.stream.removeprefix("block")
                index = int(suffix) if event.stream.startswith("block") and suffix.isdigit() else 0
                body = {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": event.text},
                }
                out += sse.format_event(orjson.dumps(body), "content_block_delta", self._newline)
        return out


class MessagesCodec:
    """``POST /v1/messages`` (and ``/v1/messages/count_tokens``, whose request carries the same texts)."""

    needs_request_body = True

    def __init__(self, info: ExchangeInfo = MESSAGES) -> None:
        self.info = info
        self._message = 0
        self._raw = b""
        self._events: list[Event] = []
        self._stream = False

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        self._raw = body or b""
        parsed = loads(self._raw)
        self._stream = isinstance(parsed, dict) and parsed.get("stream") is True
        self._events = request_events(parsed, self._raw, self._message)
        return self._events

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        rendered = render_json(self._raw, self._events, events, self._message)
        return UNCHANGED_REQUEST if rendered.raw is self._raw else RequestEdit(body=rendered.raw)

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        if status != 200 or self.info is not MESSAGES:
            return None
        content_type = headers.get("Content-Type", "")
        if content_type.startswith("text/event-stream"):
            return MessagesStreamCodec()
        if content_type.startswith("application/json") and not self._stream:
            return BufferedJsonCodec(message_events)
        return None


class CompatChatCodec(ChatCompletionsCodec):
    """Anthropic's OpenAI-compatible chat completions: OpenAI's wire format, Anthropic's exchange."""

    info = COMPAT_CHAT


class AnthropicAdapter:
    """Routes Anthropic paths to their codecs; anything else is relayed untouched."""

    name = PROVIDER

    def http(self, head: RequestHead) -> HttpCodec | None:
        if head.method != "POST":
            return None
        path = head.path.rstrip("/")
        if path.endswith("/v1/messages"):
            return MessagesCodec()
        if path.endswith("/v1/messages/count_tokens"):
            return MessagesCodec(COUNT_TOKENS)
        if path.endswith("/v1/chat/completions"):
            return CompatChatCodec()
        return None

    def websocket(self, head: RequestHead) -> WsCodec | None:
        return None
