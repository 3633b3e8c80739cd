"""OpenAI text to speech: ``POST /v1/audio/speech``.

Facts: REFERENCE-protocols.md §2. The request is JSON: ``input`` is the text spoken (``TTSText``),
``instructions`` steer the voice (``PromptText``, so they are not counted as spoken characters). The reply is
audio bytes, or with ``stream_format: "sse"`` ``speech.audio.delta``/``done`` events. Audio is measured —
``pcm`` is 24 kHz 16-bit mono, ``wav`` says its format in its header, compressed formats give bytes only —
and never copied into an event. When a guard asks for it (``AudioMarking``), the audio's container gets an
AI-generated marking in its metadata on the way through (``audio_container.py``); the measurement is taken
on the bytes as the upstream sent them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from voiceguard.events import (
    AudioChunk,
    AudioMarking,
    Direction,
    Event,
    PromptText,
    Stage,
    TextRole,
    TTSText,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols import sse
from voiceguard.protocols.audio_container import ContainerMarker, format_of
from voiceguard.protocols.audioformat import (
    PCM16_24K,
    WAV_MAX_HEADER,
    AudioFormat,
    base64_decoded_size,
    wav_header,
)
from voiceguard.protocols.base import ExchangeInfo, RequestEdit, RequestHead, StreamCodec, WireUnit
from voiceguard.protocols.jsoncodecs import JsonRequest, JsonSseCodec
from voiceguard.protocols.jsonunit import JsonOrigin
from voiceguard.protocols.openai_common import PROVIDER, token_usage, upstream_error
from voiceguard.protocols.wirejson import as_dict, as_str

SPEECH: Final = ExchangeInfo(provider=PROVIDER, operation="speech", stage=Stage.TTS)

_AUDIO_FORMATS: Final = {
    "pcm": PCM16_24K,
    "mp3": AudioFormat("mp3"),
    "opus": AudioFormat("opus"),
    "aac": AudioFormat("aac"),
    "flac": AudioFormat("flac"),
    "wav": AudioFormat("wav"),
}


class SpeechCodec:
    """``POST /v1/audio/speech``."""

    info = SPEECH
    needs_request_body = True

    def __init__(self) -> None:
        self._request = JsonRequest()
        self._format = "mp3"
        self._model: str | None = None
        self._marking: AudioMarking | None = None

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        parsed = self._request.parse(body)
        if parsed is None:
            return []
        self._format = as_str(parsed.get("response_format")) or "mp3"
        self._model = as_str(parsed.get("model"))
        voice = parsed.get("voice")
        voice_name = as_str(voice) or as_str(as_dict(voice).get("id"))
        message = self._request.message
        events: list[Event] = []
        if isinstance(parsed.get("input"), str):
            events.append(TTSText(parsed["input"], voice_name, origin=JsonOrigin(message, ("input",))))
        if isinstance(parsed.get("instructions"), str):
            origin = JsonOrigin(message, ("instructions",))
            events.append(PromptText(parsed["instructions"], TextRole.INSTRUCTIONS, origin))
        self._request.events = events
        return events

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        for event in events:
            if isinstance(event, AudioMarking):
                self._marking = event
        return self._request.render(events)

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        if status != 200:
            return None
        content_type = headers.get("Content-Type", "")
        audio = _AUDIO_FORMATS.get(self._format, AudioFormat(self._format[:16]))
        if content_type.startswith("text/event-stream"):
            return SpeechStreamCodec(audio, self._model)
        if content_type.startswith("audio/pcm"):
            audio = PCM16_24K
        elif content_type.startswith(("audio/wav", "audio/x-wav", "audio/wave")):
            audio = _AUDIO_FORMATS["wav"]
        return SpeechAudioCodec(audio, self._marker(content_type), self._model)

    def _marker(self, content_type: str) -> ContainerMarker | None:
        container = format_of(content_type) or self._format
        if self._marking is None or container not in self._marking.containers:
            return None
        return ContainerMarker(container, self._marking.fields)


class SpeechAudioCodec:
    """Audio bytes as they stream: one unit per chunk, measured; a held chunk is not forwarded."""

    def __init__(
        self, audio: AudioFormat, marker: ContainerMarker | None = None, model: str | None = None
    ) -> None:
        self._audio = audio
        self._marker = marker
        self._model = model
        self._wav = audio.encoding == "wav"
        self._head = b""
        self._data_offset: int | None = None if self._wav else 0
        self._seen = 0

    def feed(self, data: bytes) -> list[WireUnit]:
        start = self._seen
        self._seen += len(data)
        if self._data_offset is None and len(self._head) < WAV_MAX_HEADER:
            self._head += data[: WAV_MAX_HEADER - len(self._head)]
            header = wav_header(self._head)
            if header is not None:
                self._audio, self._data_offset = header.format, header.data_offset
        samples = len(data) if self._data_offset is None else self._seen - max(start, self._data_offset)
        samples = max(0, samples)
        audio = self._audio
        chunk = AudioChunk(
            Direction.TO_CLIENT, len(data), audio.seconds(samples), audio.encoding, audio.sample_rate
        )
        raw = self._marker.feed(data) if self._marker is not None else data
        return [WireUnit(raw=raw, events=[chunk])]

    def end(self) -> list[WireUnit]:
        rest = self._marker.end() if self._marker is not None else b""
        # Binary speech reports no usage; the model the request named is what telemetry prices and labels.
        events: list[Event] = [Usage(model=self._model)] if self._model else []
        return [WireUnit(raw=rest, events=events)] if rest or events else []

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        return unit.raw if any(event is own for event in events for own in unit.events) else b""


class SpeechStreamCodec(JsonSseCodec):
    """``stream_format: "sse"``: ``speech.audio.delta`` (base64 audio, measured) and ``speech.audio.done``."""

    def __init__(self, audio: AudioFormat, model: str | None) -> None:
        super().__init__()
        self._audio = audio
        self._model = model

    def parse(self, body: dict[str, Any], message: int, event: sse.SseEvent) -> list[Event]:
        kind = body.get("type")
        if kind == "speech.audio.delta":
            size = base64_decoded_size(body["audio"]) if isinstance(body.get("audio"), str) else None
            if size is None:
                return [WireAnomaly("invalid_base64", kind)]
            audio = self._audio
            return [audio.chunk(Direction.TO_CLIENT, size)]
        if kind == "speech.audio.done":
            usage = body.get("usage")
            return [token_usage(usage, self._model)] if isinstance(usage, dict) else []
        if kind == "error" or isinstance(body.get("error"), dict):
            return [upstream_error(body)]
        return []
