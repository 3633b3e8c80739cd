"""The adapter interface: how a wire protocol is turned into events and back, sans-IO.

An adapter never touches a socket. The server feeds it bytes and messages and writes whatever it renders;
the adapter parses them into ``WireUnit``s (the bytes of one wire message plus the events found in it) and,
after the guards had their say, renders a unit back. A unit whose events came back from the guards as the
very same objects is forwarded as its original bytes, so untouched traffic is byte-for-byte faithful and
costs no re-serialisation.

Three capabilities, each a small Protocol:

- ``HttpCodec``: one HTTP request/response exchange (request body in, response stream out);
- ``StreamCodec``: a stream of wire units (an SSE body, NDJSON, a plain JSON body, chunked audio);
- ``WsCodec``: one WebSocket connection, frame by frame in both directions.

A ``ProtocolAdapter`` hands out a codec for a request it understands and ``None`` for one it does not, in
which case the server forwards the exchange untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from multidict import CIMultiDictProxy, MultiDict, MultiMapping

from voiceguard.events import Event, Stage


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """What an exchange is, as soon as the adapter recognised the request."""

    provider: str
    operation: str
    stage: Stage


PASSTHROUGH = ExchangeInfo(provider="unknown", operation="passthrough", stage=Stage.OTHER)


@dataclass(slots=True)
class WireUnit:
    """One wire message (an SSE event, a WebSocket frame, a JSON body) and the events parsed from it.

    ``state`` is the adapter's own parse result (e.g. the decoded JSON), kept so that rendering a changed
    unit does not parse it again. ``binary`` matters for WebSocket frames only.
    """

    raw: bytes
    events: list[Event] = field(default_factory=list)
    state: object = None
    binary: bool = False


@dataclass(frozen=True, slots=True)
class RequestEdit:
    """How the guards' decisions change an outgoing request; ``None`` fields stay as they were.

    ``unsendable`` names what the guards turned off that the request cannot be sent without (a
    ``BiometricRequest`` with ``strippable=False`` that came back disabled): the proxy then refuses the
    request with the contract's error instead of forwarding it. Adapters only say so; the decision to turn
    the feature off, and its record, belong to the guard.
    """

    body: bytes | None = None
    query: MultiDict[str] | None = None
    unsendable: str | None = None


UNCHANGED_REQUEST = RequestEdit()


@dataclass(frozen=True, slots=True)
class RequestHead:
    """The parts of a request an adapter may look at before the body."""

    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]


class StreamCodec(Protocol):
    """Splits a byte stream into wire units and renders changed units back."""

    def feed(self, data: bytes) -> list[WireUnit]:
        """Parse the next chunk; returns the units completed by it (a partial tail is kept)."""
        ...

    def end(self) -> list[WireUnit]:
        """The stream ended: return what is left, including a trailing partial unit as raw bytes."""
        ...

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        """Write ``events`` (the guards' output for ``unit``) back into the wire format."""
        ...


class HttpCodec(Protocol):
    """One HTTP exchange of a known operation."""

    info: ExchangeInfo
    needs_request_body: bool
    """False when the request body can stream through untouched (e.g. an audio upload)."""

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        """Events found in the request; ``body`` is ``None`` when ``needs_request_body`` is false."""
        ...

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        """Apply the guards' output for the request's events to the outgoing request."""
        ...

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        """A codec for the response body, or ``None`` to forward it untouched."""
        ...


class WsCodec(Protocol):
    """One WebSocket connection, with the handshake's query and both directions of frames."""

    info: ExchangeInfo

    def handshake_events(self, head: RequestHead) -> list[Event]:
        """Events found in the upgrade request (options in the query, the caller in the path)."""
        ...

    def render_handshake(self, events: Sequence[Event]) -> RequestEdit:
        """Apply the guards' output for the handshake's events to the upstream URL."""
        ...

    def client_frame(self, data: bytes, binary: bool) -> WireUnit:
        """Parse one frame sent by the client toward the upstream."""
        ...

    def upstream_frame(self, data: bytes, binary: bool) -> WireUnit:
        """Parse one frame sent by the upstream toward the client."""
        ...

    def render(self, unit: WireUnit, events: Sequence[Event]) -> list[WireUnit]:
        """Write the guards' output for ``unit`` back as frames (none when all was held, more to inject)."""
        ...


@runtime_checkable
class CallerAudioSource(Protocol):
    """A ``WsCodec`` that can hand over the caller's encoded audio in a client frame it parsed.

    Optional (speaker-change detection uses it): called only for a unit whose events hold an
    ``AudioChunk`` toward the upstream, which gives the audio's encoding and sample rate.
    """

    def caller_audio(self, unit: WireUnit) -> bytes | None: ...


class ProtocolAdapter(Protocol):
    """A wire protocol: hands out codecs for the requests it understands."""

    name: str

    def http(self, head: RequestHead) -> HttpCodec | None:
        """A codec for this request, or ``None`` to pass it through untouched."""
        ...

    def websocket(self, head: RequestHead) -> WsCodec | None:
        """A codec for this WebSocket, or ``None`` to relay its frames untouched."""
        ...


def same_events(before: Sequence[Event], after: Sequence[Event]) -> bool:
    """True when the guards returned exactly the events they were given (the pass-through fast path)."""
    if before is after:  # the chain hands back the very list when no guard changed anything
        return True
    if len(before) != len(after):
        return False
    return all(a is b for a, b in zip(before, after, strict=True))
