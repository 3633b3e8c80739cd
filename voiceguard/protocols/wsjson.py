"""JSON text frames over a WebSocket: the framing shared by Deepgram's and Twilio's socket adapters.

A text frame is decoded once and handed to the adapter's ``parse``; a binary frame to its ``binary``. What
comes back from the guards is rendered by ``render_body`` (``render_json`` unless the adapter needs more),
so a frame nobody changed is never re-serialised. Frames that are not a JSON object are forwarded untouched
and reported as ``WireAnomaly``; unknown message types produce no events and pass through untouched.

Events a guard injected (no origin in this frame) are handed to ``inject``, which writes the ones the
protocol can express as new frames and leaves out those it cannot (e.g. text toward a socket that only
carries audio): an adapter never invents a message the vendor does not define.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from voiceguard.events import Direction, Event, WireAnomaly
from voiceguard.protocols.base import ExchangeInfo, RequestEdit, RequestHead, WireUnit
from voiceguard.protocols.jsonunit import JsonRender, render_json

MALFORMED_JSON = "malformed_json"
UNEXPECTED_BINARY = "unexpected_binary"


@dataclass(slots=True)
class JsonFrame:
    """A decoded text frame: its identity for origins, its body, and which way it travels."""

    message: int
    body: dict[str, Any]
    direction: Direction
    parsed: object = None
    """Whatever else the adapter's ``parse`` kept for rendering this frame (e.g. where its speakers are)."""

    @property
    def kind(self) -> str | None:
        value = self.body.get("type")
        return value if isinstance(value, str) else None


@dataclass(slots=True)
class OpaqueFrame:
    """A frame carried as it is (audio, or a text frame that is not a JSON object)."""

    direction: Direction


def decode(data: bytes) -> dict[str, Any] | None:
    """The JSON object in a text frame, or ``None`` when it is not one."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def split_injected(originals: Sequence[Event], out: Sequence[Event]) -> tuple[list[Event], list[Event]]:
    """Events in ``out`` that are not ``originals``, split into those before and after the first original."""
    before: list[Event] = []
    after: list[Event] = []
    seen_own = False
    for event in out:
        if any(event is original for original in originals):
            seen_own = True
        elif seen_own:
            after.append(event)
        else:
            before.append(event)
    return before, after


class JsonSocketCodec:
    """Base of a ``WsCodec`` whose text frames are JSON objects; subclasses say what the frames mean."""

    info: ExchangeInfo

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    # --- what subclasses provide -------------------------------------------------------------------------

    def parse(self, frame: JsonFrame) -> list[Event]:
        """The events in one decoded text frame."""
        return []

    def binary(self, data: bytes, direction: Direction) -> list[Event]:
        """The events in one binary frame (audio, for every protocol here)."""
        return []

    def render_body(
        self, raw: bytes, originals: Sequence[Event], out: Sequence[Event], frame: JsonFrame
    ) -> JsonRender:
        return render_json(raw, originals, out, frame.message)

    def inject(
        self, events: Sequence[Event], direction: Direction, template: JsonFrame | None
    ) -> list[WireUnit]:
        """New frames for events a guard injected; those the protocol cannot express are left out."""
        return []

    def handshake_events(self, head: RequestHead) -> list[Event]:
        return []

    def render_handshake(self, events: Sequence[Event]) -> RequestEdit:
        return RequestEdit()

    # --- the WsCodec interface ---------------------------------------------------------------------------

    def client_frame(self, data: bytes, binary: bool) -> WireUnit:
        return self._frame(data, binary, Direction.TO_UPSTREAM)

    def upstream_frame(self, data: bytes, binary: bool) -> WireUnit:
        return self._frame(data, binary, Direction.TO_CLIENT)

    def render(self, unit: WireUnit, events: Sequence[Event]) -> list[WireUnit]:
        state = unit.state
        if isinstance(state, JsonFrame):
            rendered = self.render_body(unit.raw, unit.events, events, state)
            own = [WireUnit(raw=rendered.raw)] if rendered.raw else []
            return [
                *self.inject(rendered.before, state.direction, state),
                *own,
                *self.inject(rendered.after, state.direction, state),
            ]
        direction = state.direction if isinstance(state, OpaqueFrame) else Direction.TO_CLIENT
        before, after = split_injected(unit.events, events)
        return [
            *self.inject(before, direction, None),
            WireUnit(raw=unit.raw, binary=unit.binary),
            *self.inject(after, direction, None),
        ]

    def caller_audio(self, unit: WireUnit) -> bytes | None:
        """The caller's audio in a client frame: binary frames carry it as they are."""
        return unit.raw if unit.binary else None

    def next_message(self) -> int:
        return next(self._ids)

    def _frame(self, data: bytes, binary: bool, direction: Direction) -> WireUnit:
        if binary:
            return WireUnit(
                raw=data, events=self.binary(data, direction), state=OpaqueFrame(direction), binary=True
            )
        body = decode(data)
        if body is None:
            return WireUnit(raw=data, events=[WireAnomaly(MALFORMED_JSON)], state=OpaqueFrame(direction))
        frame = JsonFrame(self.next_message(), body, direction)
        return WireUnit(raw=data, events=self.parse(frame), state=frame)
