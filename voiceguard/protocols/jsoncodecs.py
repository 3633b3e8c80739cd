"""Codecs shared by JSON-speaking HTTP adapters: a JSON request, a buffered body, a JSON-over-SSE stream.

Each keeps the exact bytes it parsed and renders a changed unit by splicing the guards' new texts into
them (``jsonunit.render_json``), so everything a guard did not change goes out as it came. A subclass only
says which events a message holds (``parse``) and how to write text a guard injected (``inject``).
A message that is not what the protocol promises is forwarded untouched with a ``WireAnomaly``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from voiceguard.events import Event, WireAnomaly
from voiceguard.protocols import sse
from voiceguard.protocols.base import (
    UNCHANGED_REQUEST,
    ExchangeInfo,
    RequestEdit,
    RequestHead,
    StreamCodec,
    WireUnit,
)
from voiceguard.protocols.jsonunit import render_json

MAX_BUFFERED_RESPONSE: Final = 16 * 1024 * 1024

_message_ids = itertools.count(1)


def new_message_id() -> int:
    """A process-unique identity for one wire message, for ``JsonOrigin``."""
    return next(_message_ids)


def loads(raw: bytes | str) -> Any:
    """Parsed JSON, or ``None`` when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def anomaly_of(raw: bytes | str) -> tuple[Any, WireAnomaly | None]:
    """Parse a message that must be a JSON object: the object, or the anomaly that it is not."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, WireAnomaly("bad_json")
    if not isinstance(body, dict):
        return None, WireAnomaly("not_an_event")
    return body, None


class JsonRequest:
    """A JSON request body: parsed once, rendered back with only the guards' changes."""

    __slots__ = ("body", "events", "message", "raw")

    def __init__(self) -> None:
        self.message = new_message_id()
        self.raw = b""
        self.body: Any = None
        self.events: list[Event] = []

    def parse(self, raw: bytes | None) -> dict[str, Any] | None:
        self.raw = raw or b""
        self.body = loads(self.raw)
        return self.body if isinstance(self.body, dict) else None

    def render(self, out: Sequence[Event]) -> RequestEdit:
        rendered = render_json(self.raw, self.events, out, self.message)
        return UNCHANGED_REQUEST if rendered.raw is self.raw else RequestEdit(body=rendered.raw)


class JsonApiCodec:
    """An API call whose request is JSON and whose reply is a JSON body or, with ``"stream": true``, SSE."""

    info: ExchangeInfo
    needs_request_body = True

    def __init__(self) -> None:
        self._request = JsonRequest()
        self._stream = False

    def parse_request(self, body: dict[str, Any] | None, message: int) -> list[Event]:
        raise NotImplementedError

    def stream_codec(self) -> StreamCodec:
        raise NotImplementedError

    def json_codec(self) -> StreamCodec:
        raise NotImplementedError

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        parsed = self._request.parse(body)
        self._stream = parsed is not None and parsed.get("stream") is True
        self._request.events = self.parse_request(parsed, self._request.message)
        return self._request.events

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        return self._request.render(events)

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        content_type = headers.get("Content-Type", "")
        if status != 200:
            return None
        if content_type.startswith("text/event-stream"):
            return self.stream_codec()
        if content_type.startswith("application/json") and not self._stream:
            return self.json_codec()
        return None


class BufferedBodyCodec:
    """A whole response body as one unit (its client waits for all of it anyway), bounded in size."""

    def __init__(self, limit: int = MAX_BUFFERED_RESPONSE) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._limit = limit

    def feed(self, data: bytes) -> list[WireUnit]:
        self._size += len(data)
        if self._size > self._limit:
            raise sse.WireLimitExceeded(f"response body larger than {self._limit} bytes")
        self._chunks.append(data)
        return []

    def end(self) -> list[WireUnit]:
        raw = b"".join(self._chunks)
        self._chunks = []
        message = new_message_id()
        return [WireUnit(raw=raw, events=self.parse(raw, message), state=message)]

    def parse(self, raw: bytes, message: int) -> list[Event]:
        """The events of the body; JSON bodies by default (override for other formats)."""
        body = loads(raw)
        if not isinstance(body, dict):
            return [WireAnomaly("bad_json")]
        return self.parse_json(body, message)

    def parse_json(self, body: dict[str, Any], message: int) -> list[Event]:
        raise NotImplementedError

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        assert isinstance(unit.state, int)
        return render_json(unit.raw, unit.events, events, unit.state).raw


@dataclass(slots=True)
class SseJsonState:
    """A parsed SSE event: its message identity, framing and JSON body."""

    message: int
    event: sse.SseEvent
    body: dict[str, Any]


class JsonSseCodec:
    """An SSE stream whose ``data:`` fields are JSON objects, one unit per event."""

    def __init__(self) -> None:
        self._splitter = sse.SseSplitter(MAX_BUFFERED_RESPONSE)
        self.newline = b"\n"

    def feed(self, data: bytes) -> list[WireUnit]:
        return [self._unit(event) for event in self._splitter.feed(data)]

    def end(self) -> list[WireUnit]:
        units = [self._unit(event) for event in self._splitter.end()]
        tail = self.stream_ended()
        if tail:
            units.append(WireUnit(raw=b"", events=tail))
        return units

    # --- what a protocol says ------------------------------------------------------------------------------

    def parse(self, body: dict[str, Any], message: int, event: sse.SseEvent) -> list[Event]:
        """The events of one JSON event."""
        raise NotImplementedError

    def done_marker(self) -> list[Event]:
        """Events for a ``data: [DONE]`` line."""
        return []

    def stream_ended(self) -> list[Event]:
        """Events for the end of the body (e.g. a reply cut short)."""
        return []

    def inject(self, events: Sequence[Event]) -> bytes:
        """Write events a guard added (e.g. a held-back tail it releases) as new SSE events."""
        return b""

    # --- mechanics -----------------------------------------------------------------------------------------

    def _unit(self, event: sse.SseEvent) -> WireUnit:
        if event.data is None:
            return WireUnit(raw=event.raw)
        if event.data.strip() == b"[DONE]":
            return WireUnit(raw=event.raw, events=self.done_marker())
        body, anomaly = anomaly_of(event.data)
        if anomaly is not None:
            return WireUnit(raw=event.raw, events=[anomaly])
        self.newline = sse.line_ending(event.raw)
        message = new_message_id()
        return WireUnit(
            raw=event.raw, events=self.parse(body, message, event), state=SseJsonState(message, event, body)
        )

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        state = unit.state
        if not isinstance(state, SseJsonState):
            # [DONE], comments, anomalies: whatever a guard added goes before them.
            injected = [event for event in events if not any(event is own for own in unit.events)]
            return self.inject(injected) + unit.raw
        data = state.event.data or b""
        rendered = render_json(data, unit.events, events, state.message)
        raw = unit.raw if rendered.raw is data else self._replace_data(state.event, rendered.raw)
        return self.inject(rendered.before) + raw + self.inject(rendered.after)

    def _replace_data(self, event: sse.SseEvent, data: bytes) -> bytes:
        original = event.data or b""
        if b"\n" not in original and event.raw.count(original) == 1:
            return event.raw.replace(original, data, 1)
        return sse.format_event(data, event.event, self.newline)
