"""OpenAI REST audio: transcriptions (speech-to-text uploads) and speech (text-to-speech), sans-IO.

Facts: REFERENCE-protocols.md §2. A transcription is a multipart upload (``file`` plus form fields) answered
with JSON ``{"text", "usage"}`` or plain text; speech is a JSON request (``input``, ``voice``, ``model``,
``instructions``) answered with streamed binary audio (``pcm`` is 24 kHz s16le mono).

Scope: the transcript of ``json`` and ``text`` answers and the speech request's texts are events a guard can
change (rendered back byte-faithfully). Answers whose text also sits elsewhere (``verbose_json`` segments and
words, ``srt``, ``vtt``, streamed transcription events) report only their usage and are relayed untouched:
parsing those belongs with the full OpenAI adapter. Uploads are parsed only when small enough to be read in
one go anyway; larger ones stream through and only the answer is parsed. Audio never leaves this module:
other parts see its size and duration only.
"""

from __future__ import annotations

import itertools
import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from voiceguard.events import (
    AudioChunk,
    Direction,
    Event,
    PromptText,
    Stage,
    TextRole,
    Transcript,
    TTSText,
    Usage,
)
from voiceguard.protocols.base import (
    UNCHANGED_REQUEST,
    ExchangeInfo,
    RequestEdit,
    RequestHead,
    StreamCodec,
    WireUnit,
)
from voiceguard.protocols.jsonunit import JsonOrigin, render_json
from voiceguard.protocols.sse import WireLimitExceeded

TRANSCRIPTION = ExchangeInfo(provider="openai", operation="transcription", stage=Stage.STT)
SPEECH = ExchangeInfo(provider="openai", operation="speech", stage=Stage.TTS)
SMALL_UPLOAD_BYTES: Final = 1024 * 1024
"""Uploads up to this size are parsed for their form fields (the proxy reads them whole anyway)."""
MAX_BUFFERED_ANSWER: Final = 4 * 1024 * 1024
PCM_BYTES_PER_SECOND: Final = 24_000 * 2

_messages = itertools.count(1)
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_FIELD_NAME = re.compile(rb'name="([^"]*)"', re.IGNORECASE)


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def form_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The plain (non-file) fields of a ``multipart/form-data`` body."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        return {}
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: dict[str, str] = {}
    for part in body.split(delimiter)[1:]:
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep or b"filename=" in head.lower():
            continue
        name = _FIELD_NAME.search(head)
        if name is not None:
            fields[name.group(1).decode("utf-8", "replace")] = value.removesuffix(b"\r\n").decode(
                "utf-8", "replace"
            )
    return fields


def transcription_usage(body: Mapping[str, Any], model: str | None) -> Usage | None:
    usage = body.get("usage")
    if isinstance(usage, dict) and usage.get("type") == "tokens":
        details = usage.get("input_token_details") or {}
        return Usage(
            model=model,
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            audio_input_tokens=details.get("audio_tokens") if isinstance(details, dict) else None,
        )
    seconds = usage.get("seconds") if isinstance(usage, dict) else body.get("duration")
    if isinstance(seconds, int | float):
        return Usage(model=model, audio_seconds=float(seconds))
    return Usage(model=model) if model else None


class _Buffered:
    """Collects a whole (small) answer body; the client waits for all of it anyway."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> list[WireUnit]:
        self._size += len(data)
        if self._size > MAX_BUFFERED_ANSWER:
            raise WireLimitExceeded(f"transcription answer larger than {MAX_BUFFERED_ANSWER} bytes")
        self._chunks.append(data)
        return []

    def body(self) -> bytes:
        return b"".join(self._chunks)


class TranscriptJsonCodec(_Buffered):
    def __init__(self, model: str | None) -> None:
        super().__init__()
        self._model = model
        self._message = next(_messages)

    def end(self) -> list[WireUnit]:
        raw = self.body()
        body = _loads(raw)
        events: list[Event] = []
        if isinstance(body, dict):
            text = body.get("text")
            verbose = "segments" in body or "words" in body
            if isinstance(text, str) and not verbose:
                language = body.get("language") if isinstance(body.get("language"), str) else None
                origin = JsonOrigin(self._message, ("text",))
                events.append(Transcript(text, is_final=True, language=language, origin=origin))
            usage = transcription_usage(body, self._model)
            if usage is not None:
                events.append(usage)
        return [WireUnit(raw=raw, events=events)]

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        return render_json(unit.raw, unit.events, events, self._message).raw


class TranscriptTextCodec(_Buffered):
    """``response_format=text``: the body is the transcript and a newline."""

    def __init__(self, model: str | None) -> None:
        super().__init__()
        self._model = model

    def end(self) -> list[WireUnit]:
        raw = self.body()
        text = raw.decode("utf-8", "replace")
        events: list[Event] = [Transcript(text.rstrip("\n"), is_final=True)]
        if self._model:
            events.append(Usage(model=self._model))
        return [WireUnit(raw=raw, events=events)]

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        transcript = next((e for e in events if isinstance(e, Transcript)), None)
        if transcript is None:
            return b""
        original = unit.raw.decode("utf-8", "replace")
        trailer = original[len(original.rstrip("\n")) :]
        return (transcript.text + trailer).encode("utf-8")


class TranscriptionCodec:
    """``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``."""

    info = TRANSCRIPTION

    def __init__(self, content_length: int | None) -> None:
        self.needs_request_body = content_length is not None and content_length <= SMALL_UPLOAD_BYTES
        self._fields: dict[str, str] = {}

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        if body:
            self._fields = form_fields(body, head.headers.get("Content-Type", ""))
        return []

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        return UNCHANGED_REQUEST

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        if status != 200 or self._fields.get("stream") == "true":
            return None
        content_type = headers.get("Content-Type", "")
        model = self._fields.get("model")
        if content_type.startswith("application/json"):
            return TranscriptJsonCodec(model)
        if content_type.startswith("text/plain") and self._fields.get("response_format") == "text":
            return TranscriptTextCodec(model)
        return None


class AudioStreamCodec:
    """Streamed speech audio: each chunk passes as it came, reported by size and (for PCM/WAV) duration."""

    def __init__(self, response_format: str, model: str | None, characters: int) -> None:
        self._format = response_format
        self._model = model
        self._characters = characters
        self._bytes_per_second: float | None = PCM_BYTES_PER_SECOND if response_format == "pcm" else None
        self._header_left = 44 if response_format == "wav" else 0
        self._first = True

    def _seconds(self, data: bytes) -> float | None:
        if self._header_left:
            if len(data) >= 36 and data[:4] == b"RIFF":
                self._bytes_per_second = float(struct.unpack_from("<I", data, 28)[0]) or None
            skipped = min(self._header_left, len(data))
            self._header_left -= skipped
            data = data[skipped:]
        if self._bytes_per_second is None:
            return None
        return len(data) / self._bytes_per_second

    def feed(self, data: bytes) -> list[WireUnit]:
        events: list[Event] = []
        if self._first:
            self._first = False
            events.append(Usage(model=self._model, characters=self._characters))
        events.append(AudioChunk(Direction.TO_CLIENT, len(data), self._seconds(data), self._format))
        return [WireUnit(raw=data, events=events)]

    def end(self) -> list[WireUnit]:
        return []

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        """Audio is never rewritten; a chunk a guard held back is not sent."""
        audio = next((e for e in unit.events if isinstance(e, AudioChunk)), None)
        return unit.raw if any(e is audio for e in events) else b""


class SpeechCodec:
    """``POST /v1/audio/speech``."""

    info = SPEECH
    needs_request_body = True

    def __init__(self) -> None:
        self._message = next(_messages)
        self._raw = b""
        self._events: list[Event] = []
        self._body: dict[str, Any] = {}

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        self._raw = body or b""
        parsed = _loads(self._raw)
        self._body = parsed if isinstance(parsed, dict) else {}
        voice = self._body.get("voice")
        if isinstance(voice, dict):
            voice = voice.get("id")
        events: list[Event] = []
        if isinstance(self._body.get("input"), str):
            origin = JsonOrigin(self._message, ("input",))
            voice_name = voice if isinstance(voice, str) else None
            events.append(TTSText(self._body["input"], voice=voice_name, origin=origin))
        if isinstance(self._body.get("instructions"), str):
            origin = JsonOrigin(self._message, ("instructions",))
            events.append(PromptText(self._body["instructions"], TextRole.INSTRUCTIONS, origin))
        self._events = events
        return events

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        rendered = render_json(self._raw, self._events, events, self._message)
        return UNCHANGED_REQUEST if rendered.raw is self._raw else RequestEdit(body=rendered.raw)

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        if status != 200 or headers.get("Content-Type", "").startswith("text/event-stream"):
            return None
        model = self._body.get("model")
        text = self._body.get("input")
        return AudioStreamCodec(
            str(self._body.get("response_format") or "mp3"),
            model if isinstance(model, str) else None,
            len(text) if isinstance(text, str) else 0,
        )


def audio_codec(head: RequestHead) -> TranscriptionCodec | SpeechCodec | None:
    """The codec for an OpenAI audio request, or ``None`` for any other path."""
    path = head.path.rstrip("/")
    if path.endswith(("/audio/transcriptions", "/audio/translations")):
        length = head.headers.get("Content-Length")
        return TranscriptionCodec(int(length) if length and length.isdigit() else None)
    if path.endswith("/audio/speech"):
        return SpeechCodec()
    return None
