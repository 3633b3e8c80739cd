"""ElevenLabs: text-to-speech REST (plain, stream, with-timestamps), stream-input WebSocket, voice cloning.

Facts: REFERENCE-protocols.md §4. A TTS request's texts are ``text``, ``previous_text`` and ``next_text``
(the last two are context the voice is conditioned on, each its own stream). Replies are binary audio,
a JSON document with base64 audio and character alignments (``/with-timestamps``), or newline-delimited
JSON chunks of that shape (``/stream/with-timestamps``). Audio length comes from ``output_format``
(exact for PCM, µ-law and A-law; an estimate at the named bitrate for mp3 and opus); the billed character
count from the ``x-character-count`` response header.

Voice cloning (instant and professional clones, speech-to-speech, dubbing, which clones its speakers) is
surfaced as ``BiometricRequest(VOICE_CLONING)``. The request *is* the feature, so it cannot be stripped: a
guard that disables it has the request refused rather than forwarded.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Final

from voiceguard.events import (
    AgentText,
    BiometricFeature,
    BiometricRequest,
    Event,
    ResponseDone,
    Stage,
    TextDelta,
    TTSText,
    Usage,
    WireAnomaly,
)
from voiceguard.guards.base import Blocked
from voiceguard.protocols import audioformat
from voiceguard.protocols.audioformat import AudioFormat
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
from voiceguard.protocols.elevenlabs_wire import (
    PROVIDER,
    REST_KEYS,
    alignment_events,
    alignment_only,
    audio_chunk,
    audio_event,
    last_time,
    render_alignments,
)
from voiceguard.protocols.elevenlabs_ws import StreamInputCodec
from voiceguard.protocols.jsonunit import JsonOrigin, render_json
from voiceguard.protocols.ndjson import LineSplitter
from voiceguard.protocols.wirejson import MALFORMED, loads

SPEECH = ExchangeInfo(provider=PROVIDER, operation="speech", stage=Stage.TTS)
VOICE_CLONING = ExchangeInfo(provider=PROVIDER, operation="voice_cloning", stage=Stage.OTHER)
MAX_LINE_BYTES: Final = 16 * 1024 * 1024

_TTS = re.compile(
    r"/v1/text-to-speech/(?P<voice>[^/]+)(?P<stream>/stream)?(?P<timestamps>/with-timestamps)?/?"
)
_STREAM_INPUT = re.compile(r"/v1/text-to-speech/(?P<voice>[^/]+)/(?:multi-)?stream-input/?")
_CLONING = re.compile(r"/v1/(?:voices/add|voices/pvc(?:/.*)?|speech-to-speech/[^/]+(?:/stream)?|dubbing)/?")
_TEXT_FIELDS: Final = (("text", ""), ("previous_text", ".previous"), ("next_text", ".next"))


def _rest_alignment_events(body: Any, raw: bytes, message: int, stream: str, fmt: AudioFormat) -> list[Event]:
    """A ``/with-timestamps`` chunk: its audio and its two alignments (original and normalised text)."""
    if body is MALFORMED:
        return [WireAnomaly("bad_json")]
    if not isinstance(body, dict):
        return [WireAnomaly("not_an_object")]
    events: list[Event] = []
    if "audio_base64" in body:
        events.append(audio_event(body["audio_base64"], fmt))
    fields = (("alignment", stream), ("normalized_alignment", f"{stream}.normalized"))
    events.extend(alignment_events(body, fields, REST_KEYS, message))
    return events


def _complete_reply(body: Any, raw: bytes, message: int, stream: str, fmt: AudioFormat) -> list[Event]:
    """The whole ``/with-timestamps`` reply: its alignments are complete texts, not deltas."""
    events = _rest_alignment_events(body, raw, message, stream, fmt)
    whole = [
        AgentText(e.text, e.stream, spoken=True, origin=e.origin) if isinstance(e, TextDelta) else e
        for e in events
    ]
    return [*whole, ResponseDone()]


class _CompleteReplyCodec(BufferedJsonCodec):
    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        return render_alignments(unit.raw, unit.events, events, 1).raw


class AudioCodec:
    """Binary audio: one unit per chunk with its metadata; the bytes go through as they came."""

    def __init__(self, fmt: AudioFormat, characters: int | None) -> None:
        self._fmt = fmt
        self._characters = characters

    def feed(self, data: bytes) -> list[WireUnit]:
        return [WireUnit(raw=data, events=[audio_chunk(len(data), self._fmt)])]

    def end(self) -> list[WireUnit]:
        events: list[Event] = [ResponseDone()]
        if self._characters is not None:
            events.insert(0, Usage(characters=self._characters))
        return [WireUnit(raw=b"", events=events)]

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        return unit.raw  # audio is never changed by a guard; a guard that must stop it raises Blocked


class TimestampStreamCodec:
    """``/stream/with-timestamps``: newline-delimited JSON chunks, one unit per line."""

    def __init__(self, stream: str, fmt: AudioFormat, characters: int | None) -> None:
        self._lines = LineSplitter(MAX_LINE_BYTES)
        self._ids = itertools.count(1)
        self._stream = stream
        self._fmt = fmt
        self._characters = characters
        self._last_time: float = 0.0

    def feed(self, data: bytes) -> list[WireUnit]:
        return [self._unit(line) for line in self._lines.feed(data)]

    def end(self) -> list[WireUnit]:
        units = [self._unit(line) for line in self._lines.end()]
        events: list[Event] = [ResponseDone()]
        if self._characters is not None:
            events.insert(0, Usage(characters=self._characters))
        return [*units, WireUnit(raw=b"", events=events)]

    def _unit(self, line: bytes) -> WireUnit:
        if not line.strip():
            return WireUnit(raw=line)
        message = next(self._ids)
        body = loads(line)
        events = _rest_alignment_events(body, line, message, self._stream, self._fmt)
        if isinstance(body, dict):
            self._last_time = last_time(body.get("alignment"), REST_KEYS) or self._last_time
        return WireUnit(raw=line, events=events, state=message)

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        injected = b""
        if not isinstance(unit.state, int):
            leftover = {e.stream: e.text for e in events if isinstance(e, TextDelta)}
            raw = unit.raw
        else:
            rendered = render_alignments(unit.raw.rstrip(b"\r\n"), unit.events, events, unit.state)
            raw = rendered.raw + unit.raw[len(unit.raw.rstrip(b"\r\n")) :]
            leftover = rendered.leftover
        for stream, text in leftover.items():
            key = "normalized_alignment" if stream.endswith(".normalized") else "alignment"
            injected += alignment_only(text, self._last_time, REST_KEYS, "audio_base64", key) + b"\n"
        return injected + raw


class SpeechCodec:
    """``POST /v1/text-to-speech/{voice_id}[/stream][/with-timestamps]``."""

    info = SPEECH
    needs_request_body = True

    def __init__(self, voice: str, stream: str, streamed: bool, timestamps: bool) -> None:
        self._voice = voice
        self._stream = stream
        self._streamed = streamed
        self._timestamps = timestamps
        self._raw = b""
        self._events: list[Event] = []
        self._fmt = audioformat.from_elevenlabs(None)

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        self._fmt = audioformat.from_elevenlabs(head.query.get("output_format"))
        self._raw = body or b""
        parsed = loads(self._raw)
        if not isinstance(parsed, dict):
            reason = "bad_json" if parsed is MALFORMED else "not_an_object"
            self._events = [WireAnomaly(reason)]
            return self._events
        self._events = [
            TTSText(parsed[key], self._voice, self._stream + suffix, JsonOrigin(0, (key,)))
            for key, suffix in _TEXT_FIELDS
            if isinstance(parsed.get(key), str)
        ]
        return self._events

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        rendered = render_json(self._raw, self._events, events, 0)
        return UNCHANGED_REQUEST if rendered.raw is self._raw else RequestEdit(body=rendered.raw)

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        if status != 200:
            return None
        count = headers.get("x-character-count", "")
        characters = int(count) if count.isascii() and count.isdigit() else None
        if not self._timestamps:
            return AudioCodec(self._fmt, characters)
        if self._streamed:
            return TimestampStreamCodec(self._stream, self._fmt, characters)
        return _CompleteReplyCodec(partial(_complete_reply, stream=self._stream, fmt=self._fmt))


class VoiceCloningCodec:
    """An endpoint whose whole purpose is a voiceprint: the request itself is the biometric feature."""

    info = VOICE_CLONING
    needs_request_body = False

    def __init__(self) -> None:
        self._event = BiometricRequest(BiometricFeature.VOICE_CLONING)

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        return [self._event]

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        kept = any(
            isinstance(e, BiometricRequest) and e.feature is BiometricFeature.VOICE_CLONING and e.enabled
            for e in events
        )
        if not kept:
            raise Blocked(
                "biometrics.voice_cloning",
                "voice cloning is not permitted for this call, and this request cannot be sent without it",
            )
        return UNCHANGED_REQUEST

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        return None


class ElevenLabsAdapter:
    """Routes ElevenLabs paths to their codecs; anything else is relayed untouched."""

    name = PROVIDER

    def __init__(self) -> None:
        self._exchanges = itertools.count(1)

    def http(self, head: RequestHead) -> HttpCodec | None:
        if head.method != "POST":
            return None
        if _CLONING.fullmatch(head.path):
            return VoiceCloningCodec()
        match = _TTS.fullmatch(head.path)
        if match is None:
            return None
        voice = match["voice"]
        return SpeechCodec(
            voice, f"{voice}#{next(self._exchanges)}", bool(match["stream"]), bool(match["timestamps"])
        )

    def websocket(self, head: RequestHead) -> WsCodec | None:
        match = _STREAM_INPUT.fullmatch(head.path)
        if match is None:
            return None
        voice = match["voice"]
        fmt = audioformat.from_elevenlabs(head.query.get("output_format"))
        return StreamInputCodec(voice, f"{voice}#{next(self._exchanges)}", fmt)
