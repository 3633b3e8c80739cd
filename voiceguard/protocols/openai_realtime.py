"""OpenAI Realtime API over WebSocket: frames in both directions, parsed into events and written back.

Facts: REFERENCE-protocols.md §1. Every frame is one JSON event in a text frame. Most frames are audio
(``input_audio_buffer.append`` up, ``response.output_audio.delta`` down, tens per second per call), so
they take a fast path: the event type is read from the first bytes, the base64 audio is located, its
alphabet checked and its size taken from its length, and nothing is decoded. Seconds follow from the
format the session negotiated (GA ``audio.input.format``, beta ``input_audio_format``; pcm16 at 24 kHz by
default, G.711 at 8 kHz). Every other frame is parsed with orjson and mapped by
``openai_realtime_events``.

A frame nobody changed is forwarded as the very bytes that came in. A frame whose text a guard rewrote is
re-rendered by splicing only that text into the original bytes. A frame that is not what the protocol
promises (bad JSON, an unknown event type, invalid base64, a missing field, a binary frame) is forwarded
untouched with a ``WireAnomaly`` that counts it. Text a guard releases later (held back at a stream's
end) is written as a new delta frame shaped like that stream's last delta; other injected events are
not expressible as Realtime client or server events and are dropped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any, Final

import orjson

from voiceguard.events import AudioChunk, Direction, Event, Stage, TextDelta, Transcript, WireAnomaly
from voiceguard.protocols.audioformat import base64_size
from voiceguard.protocols.base import UNCHANGED_REQUEST, ExchangeInfo, RequestEdit, RequestHead, WireUnit
from voiceguard.protocols.jsoncodecs import anomaly_of, new_message_id
from voiceguard.protocols.jsonunit import render_json
from voiceguard.protocols.openai_common import PROVIDER
from voiceguard.protocols.openai_realtime_events import (
    CLIENT_HANDLERS,
    CLIENT_QUIET,
    SERVER_HANDLERS,
    SERVER_QUIET,
    Handler,
    RealtimeState,
)

REALTIME: Final = ExchangeInfo(provider=PROVIDER, operation="realtime", stage=Stage.REALTIME)

_LEADING_TYPE: Final = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"type"[ \t\r\n]*:[ \t\r\n]*"([a-z_.]{1,64})"')
_AUDIO_KEY: Final = re.compile(rb'"audio"[ \t\r\n]*:[ \t\r\n]*"')
_DELTA_KEY: Final = re.compile(rb'"delta"[ \t\r\n]*:[ \t\r\n]*"')
_FAST_CLIENT: Final = {
    b"input_audio_buffer.append": _AUDIO_KEY,
    b"session.input_audio_buffer.append": _AUDIO_KEY,
}
_FAST_SERVER: Final = {
    b"response.output_audio.delta": _DELTA_KEY,
    b"response.audio.delta": _DELTA_KEY,
    b"session.output_audio.delta": _DELTA_KEY,
}
_BACKSLASH: Final = 0x5C


class RealtimeCodec:
    """One Realtime WebSocket: both directions of frames, with the session's negotiated formats."""

    info = REALTIME

    __slots__ = ("_event_ids", "state")

    def __init__(self, head: RequestHead) -> None:
        self.state = RealtimeState(model=head.query.get("model"))
        self._event_ids = itertools.count(1)

    def handshake_events(self, head: RequestHead) -> list[Event]:
        return []

    def render_handshake(self, events: Sequence[Event]) -> RequestEdit:
        return UNCHANGED_REQUEST

    def client_frame(self, data: bytes, binary: bool) -> WireUnit:
        return self._frame(data, binary, _FAST_CLIENT, Direction.TO_UPSTREAM)

    def upstream_frame(self, data: bytes, binary: bool) -> WireUnit:
        return self._frame(data, binary, _FAST_SERVER, Direction.TO_CLIENT)

    # --- parsing ---------------------------------------------------------------------------------------

    def _frame(
        self, data: bytes, binary: bool, fast: dict[bytes, re.Pattern[bytes]], direction: Direction
    ) -> WireUnit:
        if binary:
            return WireUnit(raw=data, events=[WireAnomaly("binary_frame")], binary=True)
        leading = _LEADING_TYPE.match(data)
        if leading is not None and data.endswith(b"}"):
            key = fast.get(leading.group(1))
            if key is not None:
                unit = self._audio_frame(data, leading.end(), key, direction)
                if unit is not None:
                    return unit
        return self._parsed_frame(data, direction)

    def _audio_frame(
        self, data: bytes, position: int, key: re.Pattern[bytes], direction: Direction
    ) -> WireUnit | None:
        """The fast path; ``None`` hands an unusual frame (escapes, odd layout) to the full parser."""
        found = key.search(data, position)
        if found is None:
            return None
        start = found.end()
        end = data.find(b'"', start)
        if end < 0 or data.find(_BACKSLASH, start, end) >= 0:
            return None
        size = base64_size(data, start, end)
        if size is None:
            return WireUnit(raw=data, events=[WireAnomaly("invalid_base64")])
        return WireUnit(raw=data, events=[self.state.audio_chunk(direction, size)])

    def _parsed_frame(self, data: bytes, direction: Direction) -> WireUnit:
        body, anomaly = anomaly_of(data)
        if anomaly is not None:
            return WireUnit(raw=data, events=[anomaly])
        kind = body.get("type")
        if not isinstance(kind, str):
            return WireUnit(raw=data, events=[WireAnomaly("not_an_event")])
        from_client = direction is Direction.TO_UPSTREAM
        handler: Handler | None = (CLIENT_HANDLERS if from_client else SERVER_HANDLERS).get(kind)
        if handler is None:
            quiet = CLIENT_QUIET if from_client else SERVER_QUIET
            return WireUnit(
                raw=data, events=[] if kind in quiet else [WireAnomaly("unknown_event", kind[:64])]
            )
        message = new_message_id()
        return WireUnit(raw=data, events=handler(self.state, body, message), state=message)

    # --- rendering -------------------------------------------------------------------------------------

    def render(self, unit: WireUnit, events: Sequence[Event]) -> list[WireUnit]:
        if not isinstance(unit.state, int):
            # An audio frame or an anomaly: no text to change. A held audio chunk mutes its frame.
            held = any(
                isinstance(own, AudioChunk) and not any(event is own for event in events)
                for own in unit.events
            )
            injected = [event for event in events if not any(event is own for own in unit.events)]
            frames = self._inject(injected)
            if not held:
                frames.append(WireUnit(raw=unit.raw, binary=unit.binary))
            return frames
        rendered = render_json(unit.raw, unit.events, events, unit.state)
        return [*self._inject(rendered.before), WireUnit(raw=rendered.raw), *self._inject(rendered.after)]

    def _inject(self, events: Sequence[Event]) -> list[WireUnit]:
        frames: list[WireUnit] = []
        for event in events:
            if not isinstance(event, TextDelta | Transcript) or (
                isinstance(event, Transcript) and event.is_final
            ):
                continue
            template = self.state.shapes.get(event.stream)
            if template is None:
                continue
            body: dict[str, Any] = {
                "type": template["type"],
                "event_id": f"vg_evt_{next(self._event_ids)}",
                **{key: value for key, value in template.items() if key != "type"},
                "delta": event.text,
            }
            frames.append(WireUnit(raw=orjson.dumps(body)))
        return frames
