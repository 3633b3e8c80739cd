"""ElevenLabs ``stream-input`` (and ``multi-stream-input``) WebSocket: text in, audio and alignments out.

Client frames are JSON: the first (``{"text": " ", voice_settings, generation_config, ...}``) may carry the
API key as ``xi-api-key`` or ``authorization``, so no event ever copies a field other than ``text``. Then
``{"text": "Hello ", "try_trigger_generation": true}`` pieces, and ``{"text": ""}`` ending the input, which
is surfaced as an empty ``TTSText`` so a guard holding text knows to release it now. The end marker itself
can never be held, and held text never becomes ``""`` on the wire (that would end the input early): a frame
whose only text a guard holds is dropped, and released text goes out as frames of its own.

Server frames: ``{"audio": <b64>, "alignment": {...}, "normalizedAlignment": {...}}``, ``{"isFinal": true}``
and error frames carrying ``message``/``error``. In multi-stream mode every frame names its ``context_id``
(client) or ``contextId`` (server), which becomes part of the event stream name.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from voiceguard.events import Event, ResponseDone, Stage, TTSText, UpstreamError, WireAnomaly
from voiceguard.protocols.audioformat import AudioFormat
from voiceguard.protocols.base import UNCHANGED_REQUEST, ExchangeInfo, RequestEdit, RequestHead, WireUnit
from voiceguard.protocols.elevenlabs_wire import (
    PROVIDER,
    WS_KEYS,
    alignment_events,
    alignment_only,
    audio_event,
    last_time,
    render_alignments,
)
from voiceguard.protocols.jsonunit import JsonOrigin, render_json
from voiceguard.protocols.wirejson import anomaly_unit, as_dict, as_str, loads

STREAM_INPUT = ExchangeInfo(provider=PROVIDER, operation="speech_stream_input", stage=Stage.TTS)
_DROPPABLE_KEYS: Final = frozenset({"text", "try_trigger_generation", "context_id"})


@dataclass(frozen=True, slots=True)
class _Frame:
    message: int
    body: dict[str, Any]
    from_client: bool


class StreamInputCodec:
    """One stream-input socket; ``stream`` names its utterance in events (plus the context in multi mode)."""

    info = STREAM_INPUT

    def __init__(self, voice: str, stream: str, fmt: AudioFormat) -> None:
        self._voice = voice
        self._stream = stream
        self._fmt = fmt
        self._ids = itertools.count(1)
        self._last_time: dict[str, float] = {}

    def handshake_events(self, head: RequestHead) -> list[Event]:
        return []

    def render_handshake(self, events: Sequence[Event]) -> RequestEdit:
        return UNCHANGED_REQUEST

    def _stream_of(self, context: object) -> str:
        return f"{self._stream}.{context}" if isinstance(context, str) and context else self._stream

    # --- parsing ----------------------------------------------------------------------------------------

    def _anomaly(self, body: object, data: bytes, binary: bool, *, from_client: bool) -> WireUnit:
        """A broken frame: forwarded as it came; its direction is kept so injected text still fits."""
        unit = anomaly_unit(PROVIDER, body, data, binary)
        unit.state = _Frame(next(self._ids), {}, from_client)
        return unit

    def client_frame(self, data: bytes, binary: bool) -> WireUnit:
        body = loads(data)
        if not isinstance(body, dict):
            return self._anomaly(body, data, binary, from_client=True)
        message = next(self._ids)
        stream = self._stream_of(body.get("context_id"))
        events: list[Event] = []
        text = body.get("text")
        if isinstance(text, str) and (text == "" or text.strip()):
            events.append(TTSText(text, self._voice, stream, JsonOrigin(message, ("text",))))
        elif "text" in body and not isinstance(text, str | None):
            events.append(WireAnomaly("bad_field"))
        return WireUnit(raw=data, events=events, state=_Frame(message, body, True), binary=binary)

    def upstream_frame(self, data: bytes, binary: bool) -> WireUnit:
        body = loads(data)
        if not isinstance(body, dict):
            return self._anomaly(body, data, binary, from_client=False)
        message = next(self._ids)
        stream = self._stream_of(body.get("contextId"))
        events: list[Event] = []
        if isinstance(body.get("audio"), str) and body["audio"]:
            events.append(audio_event(body["audio"], self._fmt))
        fields = (("alignment", stream), ("normalizedAlignment", f"{stream}.normalized"))
        events.extend(alignment_events(body, fields, WS_KEYS, message))
        end = last_time(body.get("alignment"), WS_KEYS)
        if end is not None:
            self._last_time[stream] = end
        if body.get("isFinal") is True:
            events.append(ResponseDone())
        if "error" in body or ("message" in body and "audio" not in body):
            error = as_str(body.get("error")) or as_str(as_dict(body.get("error")).get("type"))
            events.append(UpstreamError(code=error, message="", error_type=error))
        return WireUnit(raw=data, events=events, state=_Frame(message, body, False), binary=binary)

    # --- rendering --------------------------------------------------------------------------------------

    def render(self, unit: WireUnit, events: Sequence[Event]) -> list[WireUnit]:
        state = unit.state
        if not isinstance(state, _Frame):
            return [unit]
        if state.from_client:
            return self._render_client(unit, state, events)
        return self._render_upstream(unit, state, events)

    def _render_client(self, unit: WireUnit, state: _Frame, events: Sequence[Event]) -> list[WireUnit]:
        out = list(events)
        keep_frame = True
        for original in unit.events:
            if not isinstance(original, TTSText) or any(
                e is original or getattr(e, "origin", None) is original.origin for e in out
            ):
                continue
            if original.text == "":
                out.append(original)  # the end of input is never held back
            elif set(state.body) <= _DROPPABLE_KEYS:
                keep_frame = False
            else:
                out.append(dataclasses.replace(original, text=" "))
        rendered = render_json(unit.raw, unit.events, out, state.message)
        main = [WireUnit(raw=rendered.raw, binary=unit.binary)] if keep_frame else []
        return [
            *self._text_frames(rendered.before, unit.binary),
            *main,
            *self._text_frames(rendered.after, unit.binary),
        ]

    def _text_frames(self, events: Sequence[Event], binary: bool) -> list[WireUnit]:
        frames: list[WireUnit] = []
        for event in events:
            if isinstance(event, TTSText) and event.text:
                body: dict[str, Any] = {"text": event.text, "try_trigger_generation": True}
                if event.stream.startswith(self._stream + "."):
                    body["context_id"] = event.stream[len(self._stream) + 1 :]
                frames.append(WireUnit(raw=orjson.dumps(body), binary=binary))
        return frames

    def _render_upstream(self, unit: WireUnit, state: _Frame, events: Sequence[Event]) -> list[WireUnit]:
        rendered = render_alignments(unit.raw, unit.events, events, state.message)
        frames = []
        for stream, text in rendered.leftover.items():
            base = stream.removesuffix(".normalized")
            key = "normalizedAlignment" if stream.endswith(".normalized") else "alignment"
            raw = alignment_only(text, self._last_time.get(base, 0.0), WS_KEYS, "audio", key)
            frames.append(WireUnit(raw=raw, binary=unit.binary))
        return [*frames, WireUnit(raw=rendered.raw, binary=unit.binary)]
