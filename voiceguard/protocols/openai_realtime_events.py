"""What each OpenAI Realtime event means: the mapping from parsed client and server events to shared events.

Facts: REFERENCE-protocols.md §1. Both the GA names and the beta ones (``OpenAI-Beta: realtime=v1``) are
mapped, since one proxy serves both kinds of client. Every text a guard may rewrite gets the JSON path it
sits at, including the echoes of items and the whole output repeated in ``response.done``, so a rewrite of
the deltas is not undone by the summary. Audio is measured, never copied into an event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from voiceguard.events import (
    AudioChunk,
    Direction,
    Event,
    LLMRequest,
    PlaybackTruncated,
    PromptText,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    TextRole,
    WireAnomaly,
)
from voiceguard.protocols.audioformat import (
    G711_ALAW,
    G711_ULAW,
    PCM16_24K,
    AudioFormat,
    base64_decoded_size,
    pcm16,
)
from voiceguard.protocols.jsonspan import JsonPath
from voiceguard.protocols.jsonunit import JsonOrigin
from voiceguard.protocols.openai_common import item_events, token_usage, tool_names
from voiceguard.protocols.openai_events import (
    StreamShapes,
    arguments,
    content_part,
    delta,
    error,
    final,
    missing,
    output_item,
    partial,
    spoken,
    text,
    written,
)
from voiceguard.protocols.wirejson import as_dict, as_int, as_list, as_str

MAX_CHUNK_SIZES: Final = 64
_SHAPE_KEYS: Final = ("type", "response_id", "item_id", "output_index", "content_index")

_BETA_FORMATS: Final = {"pcm16": PCM16_24K, "g711_ulaw": G711_ULAW, "g711_alaw": G711_ALAW}
_GA_FORMATS: Final = {"audio/pcmu": G711_ULAW, "audio/pcma": G711_ALAW}


def audio_format(value: object) -> AudioFormat | None:
    """A session's audio format: GA ``{"type": "audio/pcm", "rate": 24000}`` or beta ``"pcm16"``."""
    if isinstance(value, str):
        return _BETA_FORMATS.get(value)
    if isinstance(value, dict):
        kind = value.get("type")
        if kind == "audio/pcm":
            rate = as_int(value.get("rate"))
            return pcm16(rate) if rate and 0 < rate <= 192_000 else PCM16_24K
        return _GA_FORMATS.get(kind) if isinstance(kind, str) else None
    return None


@dataclass(slots=True)
class RealtimeState:
    """What one connection has negotiated so far, and the shapes of its text streams."""

    model: str | None = None
    input: AudioFormat = PCM16_24K
    output: AudioFormat = PCM16_24K
    shapes: StreamShapes = field(default_factory=lambda: StreamShapes(_SHAPE_KEYS))
    chunks: dict[tuple[Direction, int], AudioChunk] = field(default_factory=dict)
    """Audio frames mostly repeat one size: their (immutable) event is made once and reused."""

    def apply_session(self, session: dict[str, Any]) -> None:
        """Take the model and audio formats from a session (GA nests them under ``audio``)."""
        self.model = as_str(session.get("model")) or self.model
        audio = as_dict(session.get("audio"))
        ga_in = audio_format(as_dict(audio.get("input")).get("format"))
        ga_out = audio_format(as_dict(audio.get("output")).get("format"))
        self.input = ga_in or audio_format(session.get("input_audio_format")) or self.input
        self.output = ga_out or audio_format(session.get("output_audio_format")) or self.output
        self.chunks.clear()

    def audio_chunk(self, direction: Direction, size: int) -> AudioChunk:
        key = (direction, size)
        chunk = self.chunks.get(key)
        if chunk is None:
            if len(self.chunks) >= MAX_CHUNK_SIZES:
                self.chunks.clear()
            audio = self.input if direction is Direction.TO_UPSTREAM else self.output
            chunk = audio.chunk(direction, size)
            self.chunks[key] = chunk
        return chunk


Handler = Callable[[RealtimeState, dict[str, Any], int], list[Event]]


def _audio(key: str, direction: Direction) -> Handler:
    def handle(state: RealtimeState, body: dict[str, Any], message: int) -> list[Event]:
        value = body.get(key)
        if not isinstance(value, str):
            return missing(body)
        size = base64_decoded_size(value)
        if size is None:
            return [WireAnomaly("invalid_base64", str(body.get("type"))[:64])]
        return [state.audio_chunk(direction, size)]

    return handle


def _session(state: RealtimeState, body: dict[str, Any], message: int) -> list[Event]:
    session = body.get("session")
    if not isinstance(session, dict):
        return missing(body)
    state.apply_session(session)
    texts: list[tuple[JsonPath, object]] = [
        (("session", "instructions"), session.get("instructions")),
        (
            ("session", "audio", "input", "transcription", "prompt"),
            as_dict(as_dict(as_dict(session.get("audio")).get("input")).get("transcription")).get("prompt"),
        ),
        (
            ("session", "input_audio_transcription", "prompt"),
            as_dict(session.get("input_audio_transcription")).get("prompt"),
        ),
    ]
    return [
        PromptText(text, TextRole.INSTRUCTIONS, JsonOrigin(message, path))
        for path, text in texts
        if isinstance(text, str)
    ]


def _item_create(state: RealtimeState, body: dict[str, Any], message: int) -> list[Event]:
    item = body.get("item")
    if not isinstance(item, dict):
        return missing(body)
    events = item_events(item, ("item",), message, from_client=True)
    for part in as_list(item.get("content")):
        audio = part.get("audio") if isinstance(part, dict) else None
        size = base64_decoded_size(audio) if isinstance(audio, str) else None
        if size is not None:
            events.append(state.audio_chunk(Direction.TO_UPSTREAM, size))
    return events


def _response_create(state: RealtimeState, body: dict[str, Any], message: int) -> list[Event]:
    response = as_dict(body.get("response"))
    items = as_list(response.get("input"))
    events: list[Event] = [
        LLMRequest(
            model=state.model,
            stream=True,
            message_count=len(items),
            tool_names=tool_names(response.get("tools")),
        )
    ]
    if isinstance(response.get("instructions"), str):
        origin = JsonOrigin(message, ("response", "instructions"))
        events.append(PromptText(response["instructions"], TextRole.INSTRUCTIONS, origin))
    for index, item in enumerate(items):
        events.extend(item_events(item, ("response", "input", index), message, from_client=True))
    return events


def _truncate(state: RealtimeState, body: dict[str, Any], message: int) -> list[Event]:
    return [PlaybackTruncated(as_str(body.get("item_id")), as_int(body.get("audio_end_ms")))]


def _speech(started: bool) -> Handler:
    def handle(state: RealtimeState, body: dict[str, Any], message: int) -> list[Event]:
        ms = as_int(body.get("audio_start_ms" if started else "audio_end_ms"))
        seconds = ms / 1000 if ms is not None else None
        item_id = as_str(body.get("item_id"))
        return [SpeechStarted(seconds, item_id) if started else SpeechStopped(seconds, item_id)]

    return handle


def _response_created(state: RealtimeState, body: dict[str, Any], message: int) -> list[Event]:
    response = as_dict(body.get("response"))
    return [ResponseStarted(as_str(response.get("id")), state.model)]


def _response_done(state: RealtimeState, body: dict[str, Any], message: int) -> list[Event]:
    response = body.get("response")
    if not isinstance(response, dict):
        return missing(body)
    events: list[Event] = []
    for index, item in enumerate(as_list(response.get("output"))):
        events.extend(item_events(item, ("response", "output", index), message, from_client=False))
    if isinstance(response.get("usage"), dict):
        events.append(token_usage(response["usage"], state.model))
    details = as_dict(response.get("status_details"))
    reason = as_str(details.get("reason")) or as_str(details.get("type"))
    status = as_str(response.get("status")) or "completed"
    events.append(ResponseDone(as_str(response.get("id")), status, reason))
    return events


CLIENT_HANDLERS: Final[dict[str, Handler]] = {
    "session.update": _session,
    "transcription_session.update": _session,
    "input_audio_buffer.append": _audio("audio", Direction.TO_UPSTREAM),
    "session.input_audio_buffer.append": _audio("audio", Direction.TO_UPSTREAM),
    "conversation.item.create": _item_create,
    "conversation.item.truncate": _truncate,
    "response.create": _response_create,
}
CLIENT_QUIET: Final = frozenset(
    {
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.delete",
        "conversation.item.retrieve",
        "response.cancel",
        "output_audio_buffer.clear",
        "session.close",
    }
)
"""Client events that carry neither text nor audio: known, and passed on without events."""

SERVER_HANDLERS: Final[dict[str, Handler]] = {
    "session.created": _session,
    "session.updated": _session,
    "transcription_session.created": _session,
    "transcription_session.updated": _session,
    "input_audio_buffer.speech_started": _speech(started=True),
    "input_audio_buffer.speech_stopped": _speech(started=False),
    "conversation.item.input_audio_transcription.delta": text("delta", partial, remember=True),
    "conversation.item.input_audio_transcription.completed": text("transcript", final),
    "conversation.item.input_audio_transcription.segment": text("text", partial),
    "conversation.item.input_audio_transcription.failed": error,
    "conversation.item.added": output_item,
    "conversation.item.created": output_item,
    "conversation.item.done": output_item,
    "conversation.item.retrieved": output_item,
    "response.created": _response_created,
    "response.output_item.added": output_item,
    "response.output_item.done": output_item,
    "response.content_part.added": content_part,
    "response.content_part.done": content_part,
    "response.output_audio.delta": _audio("delta", Direction.TO_CLIENT),
    "response.audio.delta": _audio("delta", Direction.TO_CLIENT),
    "session.output_audio.delta": _audio("delta", Direction.TO_CLIENT),
    "response.output_audio_transcript.delta": text("delta", delta, remember=True),
    "response.audio_transcript.delta": text("delta", delta, remember=True),
    "response.output_audio_transcript.done": text("transcript", spoken),
    "response.audio_transcript.done": text("transcript", spoken),
    "response.output_text.delta": text("delta", delta, remember=True),
    "response.text.delta": text("delta", delta, remember=True),
    "response.output_text.done": text("text", written),
    "response.text.done": text("text", written),
    "session.input_transcript.delta": text("delta", partial),
    "session.output_transcript.delta": text("delta", delta),
    "response.function_call_arguments.delta": arguments(complete=False),
    "response.function_call_arguments.done": arguments(complete=True),
    "response.done": _response_done,
    "error": error,
}
SERVER_QUIET: Final = frozenset(
    {
        "conversation.created",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "conversation.item.deleted",
        "conversation.item.truncated",
        "response.output_audio.done",
        "response.audio.done",
        "rate_limits.updated",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "session.closed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
    }
)
"""Server events that carry neither text nor audio: known, and passed on without events."""
