"""Deepgram text-to-speech: ``POST /v1/speak`` and ``/v1/speak`` over WebSocket.

Facts: REFERENCE-protocols.md §3. The text to speak is ``{"text"}`` in the REST body and ``Speak.text`` on
the socket; both become ``TTSText``. Audio comes back as the response body or as binary frames and is
reported as ``AudioChunk`` metadata only, its duration from the ``encoding``/``sample_rate`` of the query
(Deepgram's default: linear16 at 24 kHz). ``Flushed`` ends a spoken segment (``ResponseDone``); ``Clear``
is the client cutting the audio short (``PlaybackTruncated``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import orjson
from multidict import MultiDict

from voiceguard.events import (
    Direction,
    Event,
    PlaybackTruncated,
    ResponseDone,
    Stage,
    TTSText,
    UpstreamError,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols import jsonspan
from voiceguard.protocols.audioformat import AudioFormat, positive_int
from voiceguard.protocols.base import (
    UNCHANGED_REQUEST,
    ExchangeInfo,
    RequestEdit,
    RequestHead,
    StreamCodec,
    WireUnit,
)
from voiceguard.protocols.deepgram_options import speak_audio_format
from voiceguard.protocols.jsonunit import JsonOrigin
from voiceguard.protocols.wsjson import MALFORMED_JSON, UNEXPECTED_BINARY, JsonFrame, JsonSocketCodec, decode

PROVIDER: Final = "deepgram"
SPEAK: Final = ExchangeInfo(provider=PROVIDER, operation="speak", stage=Stage.TTS)
SPEAK_LIVE: Final = ExchangeInfo(provider=PROVIDER, operation="speak_live", stage=Stage.TTS)
CHARACTERS_HEADER: Final = "dg-char-count"
MODEL_HEADER: Final = "dg-model-name"


class SpokenAudioCodec:
    """A body of synthesised audio: every chunk is reported by size and passed on as it came."""

    def __init__(self, audio: AudioFormat, usage: Usage | None) -> None:
        self._audio = audio
        self._usage = usage

    def feed(self, data: bytes) -> list[WireUnit]:
        events: list[Event] = [self._audio.chunk(Direction.TO_CLIENT, len(data))]
        if self._usage is not None:
            events.insert(0, self._usage)
            self._usage = None
        return [WireUnit(raw=data, events=events)]

    def end(self) -> list[WireUnit]:
        return [WireUnit(raw=b"", events=[ResponseDone()])]

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        return unit.raw


class SpeakRestCodec:
    """``POST /v1/speak?model=...`` with ``{"text": "..."}``."""

    info = SPEAK
    needs_request_body = True

    def __init__(self) -> None:
        self._raw = b""
        self._events: list[Event] = []
        self._audio = AudioFormat()
        self._model: str | None = None

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        self._raw = body or b""
        self._audio = speak_audio_format(head.query)
        self._model = head.query.get("model")
        parsed = decode(self._raw)
        if parsed is None:
            self._events = [WireAnomaly(MALFORMED_JSON, "speak")] if self._raw else []
        elif isinstance(parsed.get("text"), str):
            text = TTSText(parsed["text"], voice=self._model, stream="speak", origin=JsonOrigin(1, ("text",)))
            self._events = [text]
        return self._events

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        """One request speaks one text: the guards' texts (changed, injected) are joined in their order."""
        if not any(isinstance(event, TTSText) for event in self._events):
            return UNCHANGED_REQUEST
        texts = [event.text for event in events if isinstance(event, TTSText) and event.text]
        return RequestEdit(body=jsonspan.edit(self._raw, [(("text",), " ".join(texts))]))

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        if status != 200 or headers.get("Content-Type", "").startswith("application/json"):
            return None
        characters = positive_int(headers.get(CHARACTERS_HEADER))
        model = headers.get(MODEL_HEADER) or self._model
        usage = Usage(model=model, characters=characters) if characters or model else None
        return SpokenAudioCodec(self._audio, usage)


class SpeakSocketCodec(JsonSocketCodec):
    """``/v1/speak`` over WebSocket: ``Speak``/``Flush``/``Clear``/``Close`` in, audio and notices out."""

    info = SPEAK_LIVE

    def __init__(self) -> None:
        super().__init__()
        self._audio = speak_audio_format(MultiDict())
        self._model: str | None = None

    def handshake_events(self, head: RequestHead) -> list[Event]:
        self._audio = speak_audio_format(head.query)
        self._model = head.query.get("model")
        return []

    def binary(self, data: bytes, direction: Direction) -> list[Event]:
        if direction is Direction.TO_CLIENT:
            return [self._audio.chunk(direction, len(data))]
        return [WireAnomaly(UNEXPECTED_BINARY, "speak")]

    def parse(self, frame: JsonFrame) -> list[Event]:
        body, kind = frame.body, frame.kind
        if frame.direction is Direction.TO_UPSTREAM:
            if kind == "Speak" and isinstance(body.get("text"), str):
                origin = JsonOrigin(frame.message, ("text",))
                return [TTSText(body["text"], voice=self._model, stream="speak", origin=origin)]
            if kind == "Clear":
                return [PlaybackTruncated()]
            return []
        if kind == "Flushed":
            sequence = body.get("sequence_id")
            return [ResponseDone(response_id=str(sequence) if sequence is not None else None)]
        if kind in ("Warning", "Error"):
            code = body.get("code")
            description = body.get("description")
            return [
                UpstreamError(
                    code=str(code) if code is not None else None,
                    message=description if isinstance(description, str) else "",
                    error_type=kind,
                )
            ]
        return []

    def inject(
        self, events: Sequence[Event], direction: Direction, template: JsonFrame | None
    ) -> list[WireUnit]:
        """Text a guard adds (a disclosure, a released tail) is spoken as a ``Speak`` message of its own."""
        if direction is not Direction.TO_UPSTREAM:
            return []
        return [
            WireUnit(raw=orjson.dumps({"type": "Speak", "text": event.text}))
            for event in events
            if isinstance(event, TTSText) and event.text
        ]
