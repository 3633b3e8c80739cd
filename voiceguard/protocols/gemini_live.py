"""Gemini Live (``BidiGenerateContent`` WebSocket): setup, realtime audio, server content, tools, usage.

Facts: REFERENCE-protocols.md §5. Keys arrive in either protobuf-JSON spelling (the Python SDK sends
``realtime_input`` around camelCase fields, the JS SDK and docs camelCase throughout), so every key is
looked up in both and an edit is written at the spelling that was actually on the wire. Server frames may
be text or binary; both are JSON and a rewritten frame keeps its opcode.

Mapping: the setup's model and tool names → ``LLMRequest``, its system instruction → ``PromptText``
(instructions); realtime audio → ``AudioChunk`` (16 kHz PCM unless the MIME type says otherwise); realtime
text and client turns → ``PromptText``; manual activity markers → speech started/stopped; tool responses →
``PromptText`` (tool). From the server: input transcription → ``Transcript`` (final when ``finished``),
output transcription and model text → ``TextDelta``, model audio → ``AudioChunk`` (24 kHz), the first output
of a turn → ``ResponseStarted``, ``interrupted`` → ``SpeechStarted`` (the server heard the caller barge
in), ``turnComplete`` → ``ResponseDone`` (``cancelled`` after an interruption), tool calls → ``ToolCall``,
``usageMetadata`` → ``Usage``. ``generationComplete``, ``goAway``, session resumption and anything unknown
pass through untouched.

The API key may sit in the URL (``?key=``): it is forwarded with the query, and nothing here or in the
request log reads the query.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
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
    SpeechStarted,
    SpeechStopped,
    Stage,
    TextDelta,
    TextRole,
    ToolCall,
    Transcript,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols import audioformat, jsonspan
from voiceguard.protocols.base import (
    UNCHANGED_REQUEST,
    ExchangeInfo,
    RequestEdit,
    RequestHead,
    WireUnit,
    WsCodec,
)
from voiceguard.protocols.jsonspan import JsonPath
from voiceguard.protocols.jsonunit import JsonOrigin, JsonValueOrigin, render_json
from voiceguard.protocols.wirejson import (
    anomaly_unit,
    as_dict,
    as_int,
    as_list,
    as_str,
    b64_size,
    key_of,
    loads,
)

PROVIDER: Final = "gemini"
LIVE = ExchangeInfo(provider=PROVIDER, operation="live", stage=Stage.REALTIME)
INPUT_RATE: Final = 16_000
OUTPUT_RATE: Final = 24_000
MODEL_TEXT: Final = "model"
OUTPUT_TRANSCRIPT: Final = "output_transcription"
INPUT_TRANSCRIPT: Final = "input_transcription"

_BIDI = re.compile(r"(?:GenerativeService\.|LlmBidiService/)BidiGenerateContent(?:Constrained)?/?$")


def _get(mapping: dict[str, Any], camel: str, snake: str) -> tuple[str, Any] | None:
    key = key_of(mapping, camel, snake)
    return (key, mapping[key]) if key is not None else None


def _audio(blob: dict[str, Any], direction: Direction, default_rate: int) -> Event | None:
    """An inline audio blob as metadata; ``None`` when the blob is not audio (video, images)."""
    found = _get(blob, "mimeType", "mime_type")
    mime = as_str(found[1]) if found else None
    if mime is not None and not mime.startswith("audio/"):
        return None
    size = b64_size(blob.get("data"))
    if size is None:
        return WireAnomaly("invalid_base64")
    fmt = audioformat.from_mime(mime, default_rate)
    return AudioChunk(direction, size, fmt.seconds(size), fmt.encoding, fmt.sample_rate)


def _modality_tokens(details: object, modality: str) -> int | None:
    for item in as_list(details):
        item = as_dict(item)
        if item.get("modality") == modality:
            return as_int(item.get("tokenCount", item.get("token_count")))
    return None


@dataclass(frozen=True, slots=True)
class _Frame:
    message: int
    from_client: bool


class LiveCodec:
    """One Live session: both directions of frames, with the turn state the events need."""

    info = LIVE

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._model: str | None = None
        self._responding = False
        self._interrupted = False

    def handshake_events(self, head: RequestHead) -> list[Event]:
        return []

    def render_handshake(self, events: Sequence[Event]) -> RequestEdit:
        return UNCHANGED_REQUEST

    def _anomaly(self, body: object, data: bytes, binary: bool, *, from_client: bool) -> WireUnit:
        """A broken frame: forwarded as it came; its direction is kept so injected text still fits."""
        unit = anomaly_unit(PROVIDER, body, data, binary)
        unit.state = _Frame(next(self._ids), from_client)
        return unit

    # --- client -----------------------------------------------------------------------------------------

    def client_frame(self, data: bytes, binary: bool) -> WireUnit:
        body = loads(data)
        if not isinstance(body, dict):
            return self._anomaly(body, data, binary, from_client=True)
        message = next(self._ids)
        events: list[Event] = []
        if found := _get(body, "setup", "setup"):
            events.extend(self._setup(found[0], as_dict(found[1]), data, message))
        if found := _get(body, "realtimeInput", "realtime_input"):
            events.extend(self._realtime_input(found[0], as_dict(found[1]), message))
        if found := _get(body, "clientContent", "client_content"):
            events.extend(self._client_content(found[0], as_dict(found[1]), message))
        if found := _get(body, "toolResponse", "tool_response"):
            events.extend(self._tool_response(found[0], as_dict(found[1]), data, message))
        return WireUnit(raw=data, events=events, state=_Frame(message, True), binary=binary)

    def _setup(self, key: str, setup: dict[str, Any], raw: bytes, message: int) -> list[Event]:
        self._model = as_str(setup.get("model"))
        names: list[str] = []
        for tool in as_list(setup.get("tools")):
            declarations = _get(as_dict(tool), "functionDeclarations", "function_declarations")
            for declaration in as_list(declarations[1] if declarations else None):
                if name := as_str(as_dict(declaration).get("name")):
                    names.append(name)
        events: list[Event] = [LLMRequest(model=self._model, stream=True, tool_names=tuple(names))]
        instruction = _get(setup, "systemInstruction", "system_instruction")
        if instruction is not None:
            path: JsonPath = (key, instruction[0])
            if isinstance(instruction[1], str):
                events.append(PromptText(instruction[1], TextRole.INSTRUCTIONS, JsonOrigin(message, path)))
            for index, part in enumerate(as_list(as_dict(instruction[1]).get("parts"))):
                if isinstance(text := as_dict(part).get("text"), str):
                    origin = JsonOrigin(message, (*path, "parts", index, "text"))
                    events.append(PromptText(text, TextRole.INSTRUCTIONS, origin))
        return events

    def _realtime_input(self, key: str, body: dict[str, Any], message: int) -> list[Event]:
        events: list[Event] = []
        if isinstance(body.get("audio"), dict):
            event = _audio(body["audio"], Direction.TO_UPSTREAM, INPUT_RATE)
            events.extend([event] if event is not None else [])
        chunks = _get(body, "mediaChunks", "media_chunks")
        for chunk in as_list(chunks[1] if chunks else None):
            event = _audio(as_dict(chunk), Direction.TO_UPSTREAM, INPUT_RATE)
            events.extend([event] if event is not None else [])
        if isinstance(body.get("text"), str):
            events.append(PromptText(body["text"], TextRole.USER, JsonOrigin(message, (key, "text"))))
        if key_of(body, "activityStart", "activity_start"):
            events.append(SpeechStarted())
        if key_of(body, "activityEnd", "activity_end"):
            events.append(SpeechStopped())
        return events

    def _client_content(self, key: str, body: dict[str, Any], message: int) -> list[Event]:
        events: list[Event] = []
        for turn_index, turn in enumerate(as_list(body.get("turns"))):
            turn = as_dict(turn)
            role = TextRole.ASSISTANT if turn.get("role") == "model" else TextRole.USER
            for part_index, part in enumerate(as_list(turn.get("parts"))):
                if isinstance(text := as_dict(part).get("text"), str):
                    path: JsonPath = (key, "turns", turn_index, "parts", part_index, "text")
                    events.append(PromptText(text, role, JsonOrigin(message, path)))
        return events

    def _tool_response(self, key: str, body: dict[str, Any], raw: bytes, message: int) -> list[Event]:
        events: list[Event] = []
        responses = _get(body, "functionResponses", "function_responses")
        for index, response in enumerate(as_list(responses[1] if responses else None)):
            if "response" in as_dict(response):
                assert responses is not None
                origin = JsonValueOrigin(message, (key, responses[0], index, "response"))
                events.append(PromptText(jsonspan.value_text(raw, origin.path), TextRole.TOOL, origin))
        return events

    # --- server -----------------------------------------------------------------------------------------

    def upstream_frame(self, data: bytes, binary: bool) -> WireUnit:
        body = loads(data)
        if not isinstance(body, dict):
            return self._anomaly(body, data, binary, from_client=False)
        message = next(self._ids)
        events: list[Event] = []
        if found := _get(body, "serverContent", "server_content"):
            events.extend(self._server_content(found[0], as_dict(found[1]), message))
        if found := _get(body, "toolCall", "tool_call"):
            events.extend(self._tool_call(found[0], as_dict(found[1]), data, message))
        if found := _get(body, "usageMetadata", "usage_metadata"):
            events.append(self._usage(as_dict(found[1])))
        return WireUnit(raw=data, events=events, state=_Frame(message, False), binary=binary)

    def _started(self) -> list[Event]:
        if self._responding:
            return []
        self._responding = True
        return [ResponseStarted(model=self._model)]

    def _server_content(self, key: str, content: dict[str, Any], message: int) -> list[Event]:
        events: list[Event] = []
        if found := _get(content, "inputTranscription", "input_transcription"):
            transcription = as_dict(found[1])
            if isinstance(transcription.get("text"), str):
                origin = JsonOrigin(message, (key, found[0], "text"))
                final = transcription.get("finished") is True
                events.append(
                    Transcript(transcription["text"], final, stream=INPUT_TRANSCRIPT, origin=origin)
                )
        if content.get("interrupted") is True:
            self._interrupted = True
            events.append(SpeechStarted())
        if found := _get(content, "modelTurn", "model_turn"):
            for index, part in enumerate(as_list(as_dict(found[1]).get("parts"))):
                part = as_dict(part)
                inline = _get(part, "inlineData", "inline_data")
                if isinstance(part.get("text"), str) and part.get("thought") is not True:
                    origin = JsonOrigin(message, (key, found[0], "parts", index, "text"))
                    events.extend([*self._started(), TextDelta(part["text"], MODEL_TEXT, origin)])
                elif inline is not None and (
                    audio := _audio(as_dict(inline[1]), Direction.TO_CLIENT, OUTPUT_RATE)
                ):
                    events.extend([*self._started(), audio] if isinstance(audio, AudioChunk) else [audio])
        if found := _get(content, "outputTranscription", "output_transcription"):
            text = as_dict(found[1]).get("text")
            if isinstance(text, str):
                origin = JsonOrigin(message, (key, found[0], "text"))
                events.extend([*self._started(), TextDelta(text, OUTPUT_TRANSCRIPT, origin)])
        if (done := _get(content, "turnComplete", "turn_complete")) and done[1] is True:
            events.append(ResponseDone(status="cancelled" if self._interrupted else "completed"))
            self._responding = self._interrupted = False
        return events

    def _tool_call(self, key: str, body: dict[str, Any], raw: bytes, message: int) -> list[Event]:
        events: list[Event] = []
        calls = _get(body, "functionCalls", "function_calls")
        for index, call in enumerate(as_list(calls[1] if calls else None)):
            call = as_dict(call)
            assert calls is not None
            origin = JsonValueOrigin(message, (key, calls[0], index, "args"))
            arguments = jsonspan.value_text(raw, origin.path) if "args" in call else ""
            call_id = as_str(call.get("id"))
            events.append(
                ToolCall(
                    as_str(call.get("name")),
                    arguments,
                    call_id,
                    stream=f"tool.{call_id or index}",
                    origin=origin if "args" in call else None,
                )
            )
        return events

    def _usage(self, usage: dict[str, Any]) -> Usage:
        def count(camel: str, snake: str) -> int | None:
            found = _get(usage, camel, snake)
            return as_int(found[1]) if found else None

        prompt_details = _get(usage, "promptTokensDetails", "prompt_tokens_details")
        response_details = _get(usage, "responseTokensDetails", "response_tokens_details")
        return Usage(
            model=self._model,
            input_tokens=count("promptTokenCount", "prompt_token_count"),
            output_tokens=count("responseTokenCount", "response_token_count"),
            cached_input_tokens=count("cachedContentTokenCount", "cached_content_token_count"),
            audio_input_tokens=_modality_tokens(prompt_details[1], "AUDIO") if prompt_details else None,
            audio_output_tokens=_modality_tokens(response_details[1], "AUDIO") if response_details else None,
        )

    # --- rendering --------------------------------------------------------------------------------------

    def render(self, unit: WireUnit, events: Sequence[Event]) -> list[WireUnit]:
        state = unit.state
        if not isinstance(state, _Frame):
            return [unit]
        rendered = render_json(unit.raw, unit.events, events, state.message)
        main = WireUnit(raw=rendered.raw, binary=unit.binary)
        if state.from_client:
            return [main]
        return [
            *self._injected(rendered.before, unit.binary),
            main,
            *self._injected(rendered.after, unit.binary),
        ]

    def _injected(self, events: Sequence[Event], binary: bool) -> list[WireUnit]:
        """Text a guard released, as server content shaped like the frames it belongs between."""
        frames: list[WireUnit] = []
        for event in events:
            content: dict[str, Any] | None = None
            if isinstance(event, TextDelta) and event.stream == OUTPUT_TRANSCRIPT:
                content = {"outputTranscription": {"text": event.text}}
            elif isinstance(event, TextDelta):
                content = {"modelTurn": {"parts": [{"text": event.text}]}}
            elif isinstance(event, Transcript):
                content = {"inputTranscription": {"text": event.text}}
            if content is not None:
                frames.append(WireUnit(raw=orjson.dumps({"serverContent": content}), binary=binary))
        return frames


class GeminiLiveAdapter:
    """Parses Live sockets; Gemini's REST calls are relayed untouched."""

    name = PROVIDER

    def http(self, head: RequestHead) -> None:
        return None

    def websocket(self, head: RequestHead) -> WsCodec | None:
        return LiveCodec() if _BIDI.search(head.path) else None
