"""OpenAI ``POST /v1/audio/speech``: the text to speak in, binary audio out (REFERENCE-protocols.md §2).

The request's ``input`` (what will be spoken) becomes a ``TTSText`` and its ``instructions`` (how to speak
it) a ``PromptText``; guards may rewrite either and the body is re-rendered byte-faithfully. The audio
answer is relayed chunk by chunk as ``AudioChunk`` events (metadata only), so turns see the TTS first byte
and the first agent audio. When a guard asked for it (``AudioMarking``), the audio's container gets an
AI-generated marking in its metadata (``audio_container.py``). ``stream_format: "sse"`` answers are
relayed untouched.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from voiceguard.events import AudioChunk, AudioMarking, Direction, Event, PromptText, Stage, TextRole, TTSText
from voiceguard.protocols.audio_container import ContainerMarker, format_of
from voiceguard.protocols.base import (
    UNCHANGED_REQUEST,
    ExchangeInfo,
    RequestEdit,
    RequestHead,
    StreamCodec,
    WireUnit,
)
from voiceguard.protocols.jsonunit import JsonOrigin, render_json

SPEECH: Final = ExchangeInfo(provider="openai", operation="speech", stage=Stage.TTS)
PCM_BYTES_PER_SECOND: Final = 24_000 * 2
"""``response_format: pcm`` is 24 kHz 16-bit mono."""

_messages = itertools.count(1)


class AudioStreamCodec:
    """The binary audio body: one unit per chunk that goes out, marked in its metadata where asked."""

    def __init__(self, container: str | None, marker: ContainerMarker | None) -> None:
        self._container = container
        self._marker = marker

    @property
    def marking_outcome(self) -> str:
        return self._marker.outcome if self._marker is not None else "none"

    def feed(self, data: bytes) -> list[WireUnit]:
        out = self._marker.feed(data) if self._marker is not None else data
        return self._units(out)

    def end(self) -> list[WireUnit]:
        return self._units(self._marker.end() if self._marker is not None else b"")

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        return unit.raw  # audio is never rewritten by a guard, only described to it

    def _units(self, data: bytes) -> list[WireUnit]:
        if not data:
            return []
        seconds = len(data) / PCM_BYTES_PER_SECOND if self._container == "pcm" else None
        chunk = AudioChunk(Direction.TO_CLIENT, len(data), seconds, self._container)
        return [WireUnit(raw=data, events=[chunk])]


class SpeechCodec:
    """``POST /v1/audio/speech``."""

    info = SPEECH
    needs_request_body = True

    def __init__(self) -> None:
        self._message = next(_messages)
        self._raw = b""
        self._events: list[Event] = []
        self._marking: AudioMarking | None = None
        self._format = "mp3"

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        self._raw = body or b""
        try:
            parsed: Any = orjson.loads(self._raw)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(parsed, dict):
            return []
        if isinstance(parsed.get("response_format"), str):
            self._format = parsed["response_format"]
        voice = parsed.get("voice")
        voice_name = voice if isinstance(voice, str) else None
        if isinstance(voice, dict) and isinstance(voice.get("id"), str):
            voice_name = voice["id"]
        events: list[Event] = []
        if isinstance(parsed.get("input"), str):
            origin = JsonOrigin(self._message, ("input",))
            events.append(TTSText(parsed["input"], voice_name, origin=origin))
        if isinstance(parsed.get("instructions"), str):
            origin = JsonOrigin(self._message, ("instructions",))
            events.append(PromptText(parsed["instructions"], TextRole.INSTRUCTIONS, origin))
        self._events = events
        return events

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        for event in events:
            if isinstance(event, AudioMarking):
                self._marking = event
        rendered = render_json(self._raw, self._events, events, self._message)
        return UNCHANGED_REQUEST if rendered.raw is self._raw else RequestEdit(body=rendered.raw)

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        content_type = headers.get("Content-Type", "")
        if status != 200 or content_type.startswith(("text/event-stream", "application/json")):
            return None
        container = format_of(content_type) or self._format
        marker = None
        if self._marking is not None and container in self._marking.containers:
            marker = ContainerMarker(container, self._marking.fields)
        return AudioStreamCodec(container, marker)
