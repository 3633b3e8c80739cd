"""Twilio Media Streams: a phone call's audio between Twilio and the operator's agent WebSocket server.

Facts: REFERENCE-protocols.md §6. Twilio is the WebSocket client; voiceguard sits on the route in front of
the agent's own server (the route's upstream), so every path of such a route is a media stream. Twilio
sends ``connected``, ``start`` (the call: ``callSid``, ``customParameters``, ``mediaFormat``), ``media``
(base64 µ-law, 8 kHz, ~20 ms a frame), ``dtmf``, ``mark`` and ``stop``; the agent sends ``media``, ``mark``
and ``clear``. Audio is counted from the base64 length; it is decoded only for speaker-change detection.

- The caller's number comes from ``customParameters`` (Twilio strips query strings from the stream URL, so
  ``<Parameter>`` is the only way in): the first of ``CALLER_PARAMETERS``, compared case-insensitively. It
  becomes ``CallerInfo``, from which the pipeline sets the call's subject and the policy its jurisdiction.
- DTMF digits are what a caller types on the keypad: card numbers, PINs. Each digit is a final
  ``Transcript`` on stream ``"dtmf"``, so the PII guards and the record redaction treat it as text. A digit
  a guard rewrites goes on as the new text; one it holds back is not forwarded; one released later goes
  out as ``dtmf`` messages of its own, a character each.
- ``clear`` from the agent empties Twilio's audio buffer (barge-in): ``PlaybackTruncated``.
- The ``outbound`` track that ``<Start><Stream track="both_tracks">`` adds is the call's other leg, not the
  agent's reply, so it is relayed without events.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from voiceguard.events import (
    CallerInfo,
    Direction,
    Event,
    PlaybackTruncated,
    Stage,
    Transcript,
    WireAnomaly,
)
from voiceguard.protocols.audioformat import AudioFormat, base64_decoded_size, positive_int
from voiceguard.protocols.base import ExchangeInfo, HttpCodec, RequestHead, WireUnit, WsCodec
from voiceguard.protocols.jsonunit import JsonOrigin, JsonRender, render_json
from voiceguard.protocols.jsonvalues import as_dict
from voiceguard.protocols.wsjson import UNEXPECTED_BINARY, JsonFrame, JsonSocketCodec

PROVIDER: Final = "twilio"
MEDIA_STREAM: Final = ExchangeInfo(provider=PROVIDER, operation="media_stream", stage=Stage.TELEPHONY)
CALLER_PARAMETERS: Final = ("from", "caller", "caller_number", "phone_number")
"""``customParameters`` keys that carry the caller's number, in order of preference (case-insensitive)."""
TWILIO_AUDIO: Final = AudioFormat(encoding="mulaw", sample_rate=8_000)
INVALID_BASE64: Final = "invalid_base64"
MISSING_FIELD: Final = "missing_field"
DTMF_STREAM: Final = "dtmf"
_ENCODINGS: Final = {"audio/x-mulaw": "mulaw", "audio/x-alaw": "alaw"}


def caller_number(parameters: Mapping[str, Any]) -> str | None:
    """The caller's number among the stream's custom parameters, if the bridge passed one."""
    lowered = {key.lower(): value for key, value in parameters.items() if isinstance(key, str)}
    for key in CALLER_PARAMETERS:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class MediaStreamCodec(JsonSocketCodec):
    """One Twilio media stream, which is one phone call."""

    info = MEDIA_STREAM

    def __init__(self) -> None:
        super().__init__()
        self._audio = TWILIO_AUDIO
        self._stream_sid: str | None = None

    def binary(self, data: bytes, direction: Direction) -> list[Event]:
        return [WireAnomaly(UNEXPECTED_BINARY, "media_stream")]

    def parse(self, frame: JsonFrame) -> list[Event]:
        body = frame.body
        kind = body.get("event")
        if isinstance(body.get("streamSid"), str):
            self._stream_sid = body["streamSid"]
        if kind == "media":
            return self._media(body, frame.direction)
        if frame.direction is Direction.TO_CLIENT:
            return [PlaybackTruncated()] if kind == "clear" else []
        if kind == "start":
            return self._start(body)
        if kind == "dtmf":
            digit = as_dict(body.get("dtmf")).get("digit")
            if not isinstance(digit, str):
                return [WireAnomaly(MISSING_FIELD, "dtmf")]
            origin = JsonOrigin(frame.message, ("dtmf", "digit"))
            return [Transcript(digit, is_final=True, stream=DTMF_STREAM, origin=origin)]
        return []

    def _start(self, body: Mapping[str, Any]) -> list[Event]:
        start = as_dict(body.get("start"))
        media_format = as_dict(start.get("mediaFormat"))
        encoding = media_format.get("encoding")
        self._audio = AudioFormat(
            encoding=_ENCODINGS.get(encoding, encoding)
            if isinstance(encoding, str)
            else TWILIO_AUDIO.encoding,
            sample_rate=positive_int(media_format.get("sampleRate")) or TWILIO_AUDIO.sample_rate,
            channels=positive_int(media_format.get("channels")) or 1,
        )
        call_sid = start.get("callSid")
        return [
            CallerInfo(
                phone_number=caller_number(as_dict(start.get("customParameters"))),
                call_sid=call_sid if isinstance(call_sid, str) else None,
            )
        ]

    def _media(self, body: Mapping[str, Any], direction: Direction) -> list[Event]:
        media = as_dict(body.get("media"))
        if direction is Direction.TO_UPSTREAM and media.get("track", "inbound") not in (
            "inbound",
            "inbound_track",
        ):
            return []
        payload = media.get("payload")
        if not isinstance(payload, str):
            return [WireAnomaly(MISSING_FIELD, "media")]
        size = base64_decoded_size(payload)
        if size is None:
            return [WireAnomaly(INVALID_BASE64, "media")]
        return [self._audio.chunk(direction, size)]

    def caller_audio(self, unit: WireUnit) -> bytes | None:
        """The µ-law of an inbound ``media`` message, decoded only when speaker detection asks for it."""
        frame = unit.state
        if not isinstance(frame, JsonFrame) or frame.body.get("event") != "media":
            return None
        payload = as_dict(frame.body.get("media")).get("payload")
        if not isinstance(payload, str):
            return None
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return None

    def render_body(
        self, raw: bytes, originals: Sequence[Event], out: Sequence[Event], frame: JsonFrame
    ) -> JsonRender:
        rendered = render_json(raw, originals, out, frame.message)
        held = [
            original
            for original in originals
            if isinstance(original, Transcript)
            and not any(getattr(event, "origin", None) == original.origin for event in out)
        ]
        return JsonRender(b"" if held else rendered.raw, rendered.before, rendered.after)

    def inject(
        self, events: Sequence[Event], direction: Direction, template: JsonFrame | None
    ) -> list[WireUnit]:
        """Digits a guard released after holding them go to the agent as ``dtmf`` messages."""
        if direction is not Direction.TO_UPSTREAM:
            return []
        units: list[WireUnit] = []
        for event in events:
            if isinstance(event, Transcript) and event.stream == DTMF_STREAM:
                for digit in event.text:
                    message = {
                        "event": "dtmf",
                        "streamSid": self._stream_sid,
                        "dtmf": {"track": "inbound_track", "digit": digit},
                    }
                    units.append(WireUnit(raw=orjson.dumps(message)))
        return units


class TwilioAdapter:
    """Every WebSocket of a Twilio route is a media stream; its plain HTTP (webhooks) is relayed untouched."""

    name = PROVIDER

    def http(self, head: RequestHead) -> HttpCodec | None:
        return None

    def websocket(self, head: RequestHead) -> WsCodec | None:
        return MediaStreamCodec()
