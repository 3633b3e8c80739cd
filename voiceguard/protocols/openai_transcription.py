"""OpenAI speech to text: ``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``.

Facts: REFERENCE-protocols.md §2. Uploads arrive as ``multipart/form-data``: the audio ``file`` plus small
text fields, of which ``prompt`` is text a guard may rewrite. An upload whose declared length is at most
``INSPECTED_UPLOAD_BYTES`` is read whole, so the prompt is inspected and the audio measured; a larger or
chunked upload streams through untouched, because a long recording must not be held in memory (its prompt
is then not inspected, and the README says so). Replies come as JSON (``json``, ``verbose_json`` with words
and segments, ``diarized_json``), plain ``text``, ``srt``/``vtt`` subtitles, or with ``stream=true`` as SSE
``transcript.text.*`` events; every text in them is a ``Transcript`` a guard may rewrite in place.

Speaker features are biometric (voiceprints): a diarization model (``gpt-4o-transcribe-diarize``) is
``BiometricRequest(DIARIZATION, strippable=False)``, since the request cannot be sent without the model
diarizing; known-speaker references (``known_speaker_names[]`` / ``known_speaker_references[]``, voice
samples the model matches speakers against) are ``BiometricRequest(SPEAKER_IDENTIFICATION)``, stripped by
removing those form fields. Speaker labels in ``diarized_json`` segments and ``transcript.text.segment``
events are the transcripts' ``speaker``; a label a guard removed is removed from the reply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from voiceguard.events import (
    AudioChunk,
    BiometricFeature,
    BiometricRequest,
    Direction,
    Event,
    PromptText,
    Stage,
    TextRole,
    Transcript,
    WireAnomaly,
    Word,
)
from voiceguard.protocols import jsonspan, multipart, sse, subtitles
from voiceguard.protocols.audioformat import WAV_MAX_HEADER, wav_header
from voiceguard.protocols.base import (
    UNCHANGED_REQUEST,
    ExchangeInfo,
    RequestEdit,
    RequestHead,
    StreamCodec,
    WireUnit,
)
from voiceguard.protocols.jsoncodecs import BufferedBodyCodec, JsonSseCodec, new_message_id
from voiceguard.protocols.jsonunit import JsonOrigin, SpanOrigin, changed_texts, render_json
from voiceguard.protocols.openai_common import PROVIDER, token_usage, upstream_error
from voiceguard.protocols.wirejson import as_list, as_str

TRANSCRIPTION: Final = ExchangeInfo(provider=PROVIDER, operation="transcription", stage=Stage.STT)
TRANSLATION: Final = ExchangeInfo(provider=PROVIDER, operation="translation", stage=Stage.STT)
INSPECTED_UPLOAD_BYTES: Final = 4 * 1024 * 1024
"""Uploads up to this size are read whole and inspected; larger ones stream through untouched."""
TEXT_FIELDS: Final = ("prompt",)
STREAM: Final = "transcript"
KNOWN_SPEAKER_FIELDS: Final = frozenset({"known_speaker_names", "known_speaker_references"})
"""Form fields naming voices to match (the SDK sends them as ``name[]``, one part per item)."""
DIARIZING_MODEL_MARK: Final = "diarize"
"""What the names of OpenAI's diarization models contain (``gpt-4o-transcribe-diarize`` and its snapshots)."""


@dataclass(frozen=True, slots=True)
class FormFeature:
    """The origin of a ``BiometricRequest`` read from an upload's form fields."""

    message: int
    feature: BiometricFeature


def _field(name: str | None) -> str | None:
    return name[:-2] if name is not None and name.endswith("[]") else name


def diarizing_model(model: str | None) -> bool:
    return model is not None and DIARIZING_MODEL_MARK in model.lower()


def _uploaded_audio(part: multipart.Part, body: bytes) -> AudioChunk:
    """The uploaded file, measured: a WAVE header tells its format, other containers give bytes only."""
    size = part.end - part.start
    header = wav_header(body[part.start : min(part.end, part.start + WAV_MAX_HEADER)])
    if header is None:
        return AudioChunk(Direction.TO_UPSTREAM, size)
    audio = header.format
    seconds = audio.seconds(max(0, size - header.data_offset))
    return AudioChunk(Direction.TO_UPSTREAM, size, seconds, audio.encoding, audio.sample_rate)


# --- transcription request ----------------------------------------------------------------------------------


class TranscriptionCodec:
    """``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``."""

    def __init__(self, head: RequestHead, *, translation: bool) -> None:
        self.info = TRANSLATION if translation else TRANSCRIPTION
        length = head.headers.get("Content-Length", "")
        self._length = int(length) if length.isascii() and length.isdigit() else None
        self.needs_request_body = self._length is not None and self._length <= INSPECTED_UPLOAD_BYTES
        self._boundary = multipart.boundary_of(head.headers.get("Content-Type", ""))
        self._message = new_message_id()
        self._raw = b""
        self._fields: list[multipart.Part] = []
        self._events: list[Event] = []
        self._form: dict[str, str] = {}
        self._known_speakers: list[multipart.Part] = []

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        if body is None:
            size = self._length or 0
            return [AudioChunk(Direction.TO_UPSTREAM, size)] if size else []
        self._raw = body
        parts = multipart.parse(body, self._boundary) if self._boundary is not None else None
        if parts is None:
            self._events = [WireAnomaly("bad_multipart")]
            return self._events
        events: list[Event] = []
        for part in parts:
            if _field(part.name) in KNOWN_SPEAKER_FIELDS:
                self._known_speakers.append(part)  # a reference clip is biometric: never read, never measured
                continue
            if part.filename is not None or part.name == "file":
                events.append(_uploaded_audio(part, body))
                continue
            value = body[part.start : part.end].decode("utf-8", "replace")
            if part.name is not None:
                self._form[part.name] = value
            if part.name in TEXT_FIELDS:
                origin = SpanOrigin(self._message, len(self._fields))
                self._fields.append(part)
                events.append(PromptText(value, TextRole.INSTRUCTIONS, origin))
        events[:0] = self._speaker_features()
        self._events = events
        return events

    def _speaker_features(self) -> list[Event]:
        features: list[Event] = []
        if diarizing_model(self._form.get("model")):
            origin = FormFeature(self._message, BiometricFeature.DIARIZATION)
            features.append(BiometricRequest(BiometricFeature.DIARIZATION, origin=origin, strippable=False))
        if self._known_speakers:
            origin = FormFeature(self._message, BiometricFeature.SPEAKER_IDENTIFICATION)
            features.append(BiometricRequest(BiometricFeature.SPEAKER_IDENTIFICATION, origin=origin))
        return features

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        kept = {
            e.origin.feature
            for e in events
            if isinstance(e, BiometricRequest) and e.enabled and isinstance(e.origin, FormFeature)
        }
        asked = {
            e.origin.feature
            for e in self._events
            if isinstance(e, BiometricRequest) and isinstance(e.origin, FormFeature)
        } - kept
        if BiometricFeature.DIARIZATION in asked:
            return RequestEdit(unsendable=BiometricFeature.DIARIZATION.value)
        removed = self._known_speakers if BiometricFeature.SPEAKER_IDENTIFICATION in asked else []
        changed, _before, _after = changed_texts(self._events, events, self._message, SpanOrigin)
        edits = [
            (self._fields[origin.index], text.encode("utf-8"))
            for origin, text in changed
            if isinstance(origin, SpanOrigin)
        ]
        if not edits and not removed:
            return UNCHANGED_REQUEST
        return RequestEdit(body=multipart.replace(self._raw, edits, removed))

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        if status != 200:
            return None
        content_type = headers.get("Content-Type", "")
        model = self._form.get("model")
        if content_type.startswith("text/event-stream"):
            return TranscriptStreamCodec(model)
        if content_type.startswith("application/json"):
            return TranscriptJsonCodec(model)
        if content_type.startswith("text/"):
            return TranscriptTextCodec()
        return None


# --- transcription replies ----------------------------------------------------------------------------------


def _words(body: dict[str, Any]) -> tuple[Word, ...]:
    words: list[Word] = []
    for entry in as_list(body.get("words")):
        if isinstance(entry, dict) and isinstance(entry.get("word"), str):
            start, end = entry.get("start"), entry.get("end")
            words.append(
                Word(
                    entry["word"],
                    float(start) if isinstance(start, int | float) else None,
                    float(end) if isinstance(end, int | float) else None,
                    as_str(entry.get("speaker")),
                )
            )
    return tuple(words)


class TranscriptJsonCodec(BufferedBodyCodec):
    """``json``, ``verbose_json`` (words, segments) and ``diarized_json`` (speaker segments) replies."""

    def __init__(self, model: str | None) -> None:
        super().__init__()
        self._model = model

    def parse_json(self, body: dict[str, Any], message: int) -> list[Event]:
        events: list[Event] = []
        if isinstance(body.get("text"), str):
            language = as_str(body.get("language"))
            origin = JsonOrigin(message, ("text",))
            events.append(
                Transcript(body["text"], words=_words(body), language=language, stream=STREAM, origin=origin)
            )
        for index, segment in enumerate(as_list(body.get("segments"))):
            if isinstance(segment, dict) and isinstance(segment.get("text"), str):
                origin = JsonOrigin(message, ("segments", index, "text"))
                speaker = as_str(segment.get("speaker"))
                events.append(
                    Transcript(segment["text"], speaker=speaker, stream=f"segment{index}", origin=origin)
                )
        if isinstance(body.get("usage"), dict):
            events.append(token_usage(body["usage"], self._model))
        return events

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        assert isinstance(unit.state, int)
        raw = render_json(unit.raw, unit.events, events, unit.state).raw
        raw = _render_speakers(raw, unit.events, events)
        return _render_words(raw, unit.events, events, unit.state)


def _render_speakers(raw: bytes, originals: Sequence[Event], out: Sequence[Event]) -> bytes:
    """Take out the ``speaker`` of every segment whose transcript a guard returned without its label."""
    by_origin = {e.origin: e for e in out if isinstance(e, Transcript) and isinstance(e.origin, JsonOrigin)}
    edits: list[tuple[jsonspan.JsonPath, object]] = []
    for original in originals:
        if not isinstance(original, Transcript):
            continue
        origin = original.origin
        if not isinstance(origin, JsonOrigin) or origin.path[:1] != ("segments",):
            continue
        replacement = by_origin.get(origin)
        if original.speaker is not None and (replacement is None or replacement.speaker is None):
            edits.append(((*origin.path[:-1], "speaker"), jsonspan.DELETE))
    return jsonspan.edit(raw, edits) if edits else raw


def _render_words(raw: bytes, originals: Sequence[Event], out: Sequence[Event], message: int) -> bytes:
    """Carry a guard's rewrite of the word list into ``words[].word`` (a held word becomes empty)."""
    original = next((e for e in originals if isinstance(e, Transcript) and e.words), None)
    if original is None:
        return raw
    replacement = next((e for e in out if isinstance(e, Transcript) and e.origin == original.origin), None)
    new_words = replacement.words if replacement is not None else ()
    if new_words == original.words:
        return raw
    edits: list[tuple[jsonspan.JsonPath, object]] = []
    for index, word in enumerate(original.words):
        text = new_words[index].text if index < len(new_words) else ""
        if text != word.text:
            edits.append((("words", index, "word"), text))
    return jsonspan.edit(raw, edits) if edits else raw


class TranscriptTextCodec(BufferedBodyCodec):
    """``text``, ``srt`` and ``vtt`` replies: plain text, or subtitle cues each a final transcript."""

    def __init__(self) -> None:
        super().__init__()
        self._cues: list[subtitles.Cue] = []

    def parse(self, raw: bytes, message: int) -> list[Event]:
        if subtitles.looks_like_subtitles(raw):
            cues = subtitles.cues(raw)
            if cues is None:
                return [WireAnomaly("bad_text")]
            self._cues = cues
            return [
                Transcript(cue.text, stream=f"cue{index}", origin=SpanOrigin(message, index))
                for index, cue in enumerate(cues)
            ]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return [WireAnomaly("bad_text")]
        stripped = text.strip()
        start = raw.find(stripped.encode("utf-8")) if stripped else 0
        self._cues = [subtitles.Cue(stripped, None, None, start, start + len(stripped.encode("utf-8")))]
        return [Transcript(stripped, stream=STREAM, origin=SpanOrigin(message, 0))]

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        assert isinstance(unit.state, int)
        changed, _before, _after = changed_texts(unit.events, events, unit.state, SpanOrigin)
        edits = [(self._cues[o.index], text) for o, text in changed if isinstance(o, SpanOrigin)]
        return subtitles.replace(unit.raw, edits) if edits else unit.raw


class TranscriptStreamCodec(JsonSseCodec):
    """``stream=true``: ``transcript.text.delta`` / ``.segment`` / ``.done`` events (``[DONE]`` tolerated)."""

    def __init__(self, model: str | None) -> None:
        super().__init__()
        self._model = model

    def parse(self, body: dict[str, Any], message: int, event: sse.SseEvent) -> list[Event]:
        kind = body.get("type")
        if kind == "transcript.text.delta" and isinstance(body.get("delta"), str):
            return [
                Transcript(
                    body["delta"], is_final=False, stream=STREAM, origin=JsonOrigin(message, ("delta",))
                )
            ]
        if kind == "transcript.text.segment" and isinstance(body.get("text"), str):
            origin = JsonOrigin(message, ("text",))
            return [
                Transcript(
                    body["text"],
                    is_final=False,
                    speaker=as_str(body.get("speaker")),
                    stream=STREAM,
                    origin=origin,
                )
            ]
        if kind == "transcript.text.done" and isinstance(body.get("text"), str):
            events: list[Event] = [
                Transcript(body["text"], stream=STREAM, origin=JsonOrigin(message, ("text",)))
            ]
            if isinstance(body.get("usage"), dict):
                events.append(token_usage(body["usage"], self._model))
            return events
        if kind == "error" or isinstance(body.get("error"), dict):
            return [upstream_error(body)]
        if isinstance(kind, str) and kind.startswith("transcript.text."):
            return [WireAnomaly("missing_field", kind[:64])]
        return []

    def inject(self, events: Sequence[Event]) -> bytes:
        out = b""
        for event in events:
            if isinstance(event, Transcript) and not event.is_final:
                body = {"type": "transcript.text.delta", "delta": event.text}
                out += sse.format_event(orjson.dumps(body), None, self.newline)
        return out
