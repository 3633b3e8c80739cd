"""OpenAI REST: chat completions (JSON and SSE), parsed into events and rendered back byte-faithfully.

Facts: REFERENCE-protocols.md §2. A chat request's texts are its messages' ``content`` (a string or a list of
parts), tool results, and the arguments of earlier tool calls. A streamed reply is ``data: <chunk>`` events
without ``event:`` lines, ending with ``data: [DONE]``; with ``stream_options.include_usage`` one extra chunk
with empty ``choices`` carries the usage. Unknown fields and events pass through untouched.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
)
from voiceguard.protocols import sse
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
from voiceguard.protocols.jsonspan import JsonPath
from voiceguard.protocols.jsonunit import JsonOrigin, render_json

PROVIDER = "openai"
CHAT = ExchangeInfo(provider=PROVIDER, operation="chat", stage=Stage.LLM)
MAX_BUFFERED_RESPONSE = 16 * 1024 * 1024

_message_ids = itertools.count(1)

_ROLES = {role.value: role for role in TextRole}


def _role(value: object) -> TextRole:
    if value == "developer":
        return TextRole.SYSTEM
    return _ROLES.get(value, TextRole.USER) if isinstance(value, str) else TextRole.USER


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def usage_event(usage: Mapping[str, Any], model: str | None) -> Usage:
    """Map chat-completions usage (with its token details) to the shared event."""
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        model=model,
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cached_input_tokens=prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None,
        audio_input_tokens=prompt_details.get("audio_tokens") if isinstance(prompt_details, dict) else None,
        audio_output_tokens=completion_details.get("audio_tokens")
        if isinstance(completion_details, dict)
        else None,
    )


def chat_request_events(body: Any, message: int) -> list[Event]:
    """The texts of a chat-completions request, each with the path it came from."""
    if not isinstance(body, dict):
        return []
    messages = _list(body.get("messages"))
    tools = _list(body.get("tools"))
    tool_names = tuple(
        str(tool.get("function", {}).get("name"))
        for tool in tools
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
    )
    model = body.get("model")
    events: list[Event] = [
        LLMRequest(
            model=model if isinstance(model, str) else None,
            stream=body.get("stream") is True,
            message_count=len(messages),
            tool_names=tool_names,
        )
    ]
    for index, item in enumerate(messages):
        if not isinstance(item, dict):
            continue
        role = _role(item.get("role"))
        content = item.get("content")
        if isinstance(content, str):
            events.append(PromptText(content, role, JsonOrigin(message, ("messages", index, "content"))))
        elif isinstance(content, list):
            for part_index, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    part_path: JsonPath = ("messages", index, "content", part_index, "text")
                    events.append(PromptText(part["text"], role, JsonOrigin(message, part_path)))
        for call_index, call in enumerate(_list(item.get("tool_calls"))):
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                path: JsonPath = ("messages", index, "tool_calls", call_index, "function", "arguments")
                events.append(
                    PromptText(function["arguments"], TextRole.ASSISTANT, JsonOrigin(message, path))
                )
    return events


def chat_response_events(body: Any, message: int) -> list[Event]:
    """The events of a complete (non-streamed) chat completion."""
    if not isinstance(body, dict):
        return []
    model = body.get("model") if isinstance(body.get("model"), str) else None
    events: list[Event] = [ResponseStarted(response_id=body.get("id"), model=model)]
    finish_reason = None
    for position, choice in enumerate(_list(body.get("choices"))):
        if not isinstance(choice, dict):
            continue
        stream = f"choice{choice.get('index', position)}"
        finish_reason = choice.get("finish_reason") or finish_reason
        reply = _dict(choice.get("message"))
        if isinstance(reply.get("content"), str):
            origin = JsonOrigin(message, ("choices", position, "message", "content"))
            events.append(AgentText(reply["content"], stream, origin=origin))
        for call_index, call in enumerate(_list(reply.get("tool_calls"))):
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                path = ("choices", position, "message", "tool_calls", call_index, "function", "arguments")
                events.append(
                    ToolCall(
                        name=function.get("name"),
                        arguments=function["arguments"],
                        call_id=call.get("id"),
                        stream=f"{stream}.tool{call_index}",
                        origin=JsonOrigin(message, path),
                    )
                )
    if isinstance(body.get("usage"), dict):
        events.append(usage_event(body["usage"], model))
    events.append(ResponseDone(response_id=body.get("id"), finish_reason=finish_reason))
    return events


@dataclass(slots=True)
class _ChunkState:
    message: int
    event: sse.SseEvent
    body: Any


class ChatStreamCodec:
    """The SSE stream of a chat completion: one unit per event."""

    def __init__(self) -> None:
        self._splitter = sse.SseSplitter(MAX_BUFFERED_RESPONSE)
        self._started = False
        self._done = False
        self._finish_reason: str | None = None
        self._response_id: str | None = None
        self._template: dict[str, Any] | None = None
        self._newline = b"\n"

    def feed(self, data: bytes) -> list[WireUnit]:
        return [self._unit(event) for event in self._splitter.feed(data)]

    def end(self) -> list[WireUnit]:
        units = [self._unit(event) for event in self._splitter.end()]
        if not self._done:
            self._done = True
            units.append(
                WireUnit(raw=b"", events=[ResponseDone(self._response_id, "incomplete", self._finish_reason)])
            )
        return units

    def _unit(self, event: sse.SseEvent) -> WireUnit:
        if event.data is None:
            return WireUnit(raw=event.raw)
        if event.data.strip() == b"[DONE]":
            self._done = True
            done = ResponseDone(self._response_id, "completed", self._finish_reason)
            return WireUnit(raw=event.raw, events=[done])
        body = _loads(event.data)
        if not isinstance(body, dict):
            return WireUnit(raw=event.raw)
        self._newline = sse.line_ending(event.raw)
        message = next(_message_ids)
        events: list[Event] = []
        if isinstance(body.get("error"), dict):
            error = body["error"]
            events.append(
                UpstreamError(code=str(error.get("code")), message="", error_type=error.get("type"))
            )
            return WireUnit(raw=event.raw, events=events, state=_ChunkState(message, event, body))
        model = body.get("model") if isinstance(body.get("model"), str) else None
        if not self._started:
            self._started = True
            self._response_id = body.get("id")
            events.append(ResponseStarted(response_id=self._response_id, model=model))
        for position, choice in enumerate(_list(body.get("choices"))):
            if not isinstance(choice, dict):
                continue
            if self._template is None:
                self._template = {
                    key: body[key] for key in ("id", "object", "created", "model") if key in body
                }
            stream = f"choice{choice.get('index', position)}"
            delta = _dict(choice.get("delta"))
            if isinstance(delta.get("content"), str):
                origin = JsonOrigin(message, ("choices", position, "delta", "content"))
                events.append(TextDelta(delta["content"], stream, origin))
            for call_position, call in enumerate(_list(delta.get("tool_calls"))):
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    path = (
                        "choices",
                        position,
                        "delta",
                        "tool_calls",
                        call_position,
                        "function",
                        "arguments",
                    )
                    events.append(
                        ToolCall(
                            name=function.get("name"),
                            arguments=function["arguments"],
                            call_id=call.get("id"),
                            complete=False,
                            stream=f"{stream}.tool{call.get('index', call_position)}",
                            origin=JsonOrigin(message, path),
                        )
                    )
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        if isinstance(body.get("usage"), dict):
            events.append(usage_event(body["usage"], model))
        return WireUnit(raw=event.raw, events=events, state=_ChunkState(message, event, body))

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        state = unit.state
        if not isinstance(state, _ChunkState):
            # [DONE] and comment units carry no text: whatever a guard added goes before them.
            injected = [event for event in events if not any(event is own for own in unit.events)]
            return self._render_injected(injected) + unit.raw
        data = state.event.data or b""
        rendered = render_json(data, unit.events, events, state.message)
        raw = unit.raw if rendered.raw is data else self._replace_data(state.event, rendered.raw)
        return self._render_injected(rendered.before) + raw + self._render_injected(rendered.after)

    def _replace_data(self, event: sse.SseEvent, data: bytes) -> bytes:
        original = event.data or b""
        if b"\n" not in original and event.raw.count(original) == 1:
            return event.raw.replace(original, data, 1)
        return sse.format_event(data, event.event, self._newline)

    def _render_injected(self, events: Sequence[Event]) -> bytes:
        """Write text that a guard injected (e.g. a released tail) as chunks shaped like their neighbours."""
        out = b""
        template = self._template or {"object": "chat.completion.chunk"}
        for event in events:
            if isinstance(event, TextDelta):
                index = (
                    int(event.stream.removeprefix("choice") or 0) if event.stream.startswith("choice") else 0
                )
                chunk = {
                    **template,
                    "choices": [{"index": index, "delta": {"content": event.text}, "finish_reason": None}],
                }
                out += sse.format_event(orjson.dumps(chunk), None, self._newline)
            elif isinstance(event, ToolCall) and ".tool" in event.stream:
                # a released tail of streamed arguments, e.g. stream "choice0.tool1"
                choice, _, tool = event.stream.partition(".tool")
                call = {"index": int(tool or 0), "function": {"arguments": event.arguments}}
                chunk = {
                    **template,
                    "choices": [
                        {
                            "index": int(choice.removeprefix("choice") or 0),
                            "delta": {"tool_calls": [call]},
                            "finish_reason": None,
                        }
                    ],
                }
                out += sse.format_event(orjson.dumps(chunk), None, self._newline)
        return out


class ChatJsonCodec:
    """A complete chat completion body: buffered (the client waits for all of it anyway), one unit."""

    def __init__(self, limit: int = MAX_BUFFERED_RESPONSE) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._limit = limit

    def feed(self, data: bytes) -> list[WireUnit]:
        self._size += len(data)
        if self._size > self._limit:
            raise sse.WireLimitExceeded(f"response body larger than {self._limit} bytes")
        self._chunks.append(data)
        return []

    def end(self) -> list[WireUnit]:
        raw = b"".join(self._chunks)
        message = next(_message_ids)
        return [WireUnit(raw=raw, events=chat_response_events(_loads(raw), message), state=message)]

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        assert isinstance(unit.state, int)
        return render_json(unit.raw, unit.events, events, unit.state).raw


class ChatCompletionsCodec:
    """``POST /v1/chat/completions``."""

    info = CHAT
    needs_request_body = True

    def __init__(self) -> None:
        self._message = next(_message_ids)
        self._raw = b""
        self._events: list[Event] = []
        self._stream = False

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        self._raw = body or b""
        parsed = _loads(self._raw)
        self._stream = isinstance(parsed, dict) and parsed.get("stream") is True
        self._events = chat_request_events(parsed, self._message)
        return self._events

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        rendered = render_json(self._raw, self._events, events, self._message)
        return UNCHANGED_REQUEST if rendered.raw is self._raw else RequestEdit(body=rendered.raw)

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        content_type = headers.get("Content-Type", "")
        if status != 200:
            return None
        if content_type.startswith("text/event-stream"):
            return ChatStreamCodec()
        if content_type.startswith("application/json") and not self._stream:
            return ChatJsonCodec()
        return None


class OpenAIAdapter:
    """Routes OpenAI REST paths to their codecs; anything else is relayed untouched."""

    name = PROVIDER

    def http(self, head: RequestHead) -> HttpCodec | None:
        if head.method == "POST" and head.path.rstrip("/").endswith("/chat/completions"):
            return ChatCompletionsCodec()
        return None

    def websocket(self, head: RequestHead) -> WsCodec | None:
        return None
