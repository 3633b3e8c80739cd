"""OpenAI REST: routing every OpenAI path to its codec, and chat completions (JSON and SSE).

Facts: REFERENCE-protocols.md §2. A chat request's texts are its messages' ``content`` (a string or a list of
parts), tool results, and the arguments of earlier tool calls. A streamed reply is ``data: <chunk>`` events
without ``event:`` lines, ending with ``data: [DONE]``; with ``stream_options.include_usage`` one extra chunk
with empty ``choices`` carries the usage. Unknown fields and events pass through untouched. The Responses
API, the audio endpoints and the Realtime API have their own modules; ``OpenAIAdapter`` routes to them.
The chunk that carries a choice's ``finish_reason`` also yields the choice's whole text as an ``AgentText``
(no origin: a summary, never rendered), so a guard can settle held text before that chunk goes out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    ExchangeInfo,
    HttpCodec,
    RequestHead,
    StreamCodec,
    WsCodec,
)
from voiceguard.protocols.jsoncodecs import BufferedBodyCodec, JsonApiCodec, JsonSseCodec
from voiceguard.protocols.jsonspan import JsonPath
from voiceguard.protocols.jsonunit import JsonOrigin
from voiceguard.protocols.openai_common import PROVIDER, role_of, tool_names
from voiceguard.protocols.openai_realtime import RealtimeCodec
from voiceguard.protocols.openai_responses import ResponsesCodec
from voiceguard.protocols.openai_speech import SpeechCodec
from voiceguard.protocols.openai_transcription import TranscriptionCodec
from voiceguard.protocols.wirejson import as_dict, as_list, as_str

CHAT = ExchangeInfo(provider=PROVIDER, operation="chat", stage=Stage.LLM)


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
    messages = as_list(body.get("messages"))
    model = body.get("model")
    events: list[Event] = [
        LLMRequest(
            model=model if isinstance(model, str) else None,
            stream=body.get("stream") is True,
            message_count=len(messages),
            tool_names=tool_names(body.get("tools")),
        )
    ]
    for index, item in enumerate(messages):
        if not isinstance(item, dict):
            continue
        role = role_of(item.get("role"))
        content = item.get("content")
        if isinstance(content, str):
            events.append(PromptText(content, role, JsonOrigin(message, ("messages", index, "content"))))
        elif isinstance(content, list):
            for part_index, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    part_path: JsonPath = ("messages", index, "content", part_index, "text")
                    events.append(PromptText(part["text"], role, JsonOrigin(message, part_path)))
        for call_index, call in enumerate(as_list(item.get("tool_calls"))):
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
    model = as_str(body.get("model"))
    events: list[Event] = [ResponseStarted(response_id=body.get("id"), model=model)]
    finish_reason = None
    for position, choice in enumerate(as_list(body.get("choices"))):
        if not isinstance(choice, dict):
            continue
        stream = f"choice{choice.get('index', position)}"
        finish_reason = choice.get("finish_reason") or finish_reason
        reply = as_dict(choice.get("message"))
        if isinstance(reply.get("content"), str):
            origin = JsonOrigin(message, ("choices", position, "message", "content"))
            events.append(AgentText(reply["content"], stream, origin=origin))
        for call_index, call in enumerate(as_list(reply.get("tool_calls"))):
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


class ChatStreamCodec(JsonSseCodec):
    """The SSE stream of a chat completion: one unit per event."""

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._done = False
        self._finish_reason: str | None = None
        self._response_id: str | None = None
        self._template: dict[str, Any] | None = None
        self._texts: dict[str, list[str]] = {}

    def done_marker(self) -> list[Event]:
        self._done = True
        return [ResponseDone(self._response_id, "completed", self._finish_reason)]

    def stream_ended(self) -> list[Event]:
        if self._done:
            return []
        self._done = True
        return [ResponseDone(self._response_id, "incomplete", self._finish_reason)]

    def parse(self, body: dict[str, Any], message: int, event: sse.SseEvent) -> list[Event]:
        if isinstance(body.get("error"), dict):
            error = body["error"]
            return [UpstreamError(code=str(error.get("code")), message="", error_type=error.get("type"))]
        events: list[Event] = []
        model = as_str(body.get("model"))
        if not self._started:
            self._started = True
            self._response_id = body.get("id")
            events.append(ResponseStarted(response_id=self._response_id, model=model))
        for position, choice in enumerate(as_list(body.get("choices"))):
            if not isinstance(choice, dict):
                continue
            if self._template is None:
                self._template = {
                    key: body[key] for key in ("id", "object", "created", "model") if key in body
                }
            stream = f"choice{choice.get('index', position)}"
            delta = as_dict(choice.get("delta"))
            if isinstance(delta.get("content"), str):
                origin = JsonOrigin(message, ("choices", position, "delta", "content"))
                events.append(TextDelta(delta["content"], stream, origin))
                self._texts.setdefault(stream, []).append(delta["content"])
            for call_position, call in enumerate(as_list(delta.get("tool_calls"))):
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
                if stream in self._texts:
                    # The choice's text is complete: guards holding a tail can release it before this chunk.
                    events.append(AgentText("".join(self._texts.pop(stream)), stream))
        if isinstance(body.get("usage"), dict):
            events.append(usage_event(body["usage"], model))
        return events

    def inject(self, events: Sequence[Event]) -> bytes:
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
                out += sse.format_event(orjson.dumps(chunk), None, self.newline)
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
                out += sse.format_event(orjson.dumps(chunk), None, self.newline)
        return out


class ChatJsonCodec(BufferedBodyCodec):
    """A complete chat completion body: buffered (the client waits for all of it anyway), one unit."""

    def parse_json(self, body: dict[str, Any], message: int) -> list[Event]:
        return chat_response_events(body, message)


class ChatCompletionsCodec(JsonApiCodec):
    """``POST /v1/chat/completions``."""

    info = CHAT

    def parse_request(self, body: dict[str, Any] | None, message: int) -> list[Event]:
        return chat_request_events(body, message)

    def stream_codec(self) -> StreamCodec:
        return ChatStreamCodec()

    def json_codec(self) -> StreamCodec:
        return ChatJsonCodec()


class OpenAIAdapter:
    """Routes OpenAI REST paths and the Realtime WebSocket to their codecs; the rest is relayed untouched."""

    name = PROVIDER

    def http(self, head: RequestHead) -> HttpCodec | None:
        if head.method != "POST":
            return None
        path = head.path.rstrip("/")
        if path.endswith("/chat/completions"):
            return ChatCompletionsCodec()
        if path.endswith("/responses"):
            return ResponsesCodec()
        if path.endswith("/audio/transcriptions"):
            return TranscriptionCodec(head, translation=False)
        if path.endswith("/audio/translations"):
            return TranscriptionCodec(head, translation=True)
        if path.endswith("/audio/speech"):
            return SpeechCodec()
        return None

    def websocket(self, head: RequestHead) -> WsCodec | None:
        if head.path.rstrip("/").endswith("/realtime"):
            return RealtimeCodec(head)
        return None
