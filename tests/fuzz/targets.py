"""What every wire parser must survive, as plain functions shared by the hypothesis tests and atheris.

Each target drives one adapter through the interface the server uses (``ProtocolAdapter`` → codecs) with
whatever bytes it is given, and checks the invariants voiceguard relies on:

- nothing but the documented ``WireLimitExceeded`` escapes a parser (anything else would kill the request
  handler mid-call);
- framing loses no byte: the units' raw bytes put together are exactly the input, so malformed input passes
  through untouched;
- a unit whose texts come back from the guards unchanged (as new but equal events) renders to its very bytes;
- rewriting every text (shorter, longer, empty, with quotes, backslashes and emoji) renders without error, and
  a WebSocket frame that was JSON stays JSON.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from voiceguard.events import Event
from voiceguard.protocols import build_adapter
from voiceguard.protocols.base import RequestHead, StreamCodec, WireUnit
from voiceguard.protocols.sse import WireLimitExceeded

FIXTURES: Final = Path(__file__).resolve().parent.parent / "fixtures"

REWRITES: Final[tuple[Callable[[str], str], ...]] = (
    lambda text: "*" * len(text),
    lambda text: "",
    lambda text: text + ' "quoted" \\ back\\slash \n\u2028 \U0001f600',
    lambda text: text.upper(),
    lambda text: "[REDACTED]",
)


@dataclass(frozen=True)
class HttpEndpoint:
    protocol: str
    path: str
    request_seeds: tuple[str, ...] = ()
    response_seeds: tuple[tuple[str, str], ...] = ()
    """(content type, fixture) pairs for response bodies."""
    method: str = "POST"
    content_type: str = "application/json"


@dataclass(frozen=True)
class WsEndpoint:
    protocol: str
    path: str
    client_seeds: tuple[str, ...] = ()
    upstream_seeds: tuple[str, ...] = ()
    query: tuple[tuple[str, str], ...] = ()


HTTP_ENDPOINTS: Final = (
    HttpEndpoint(
        "openai",
        "/v1/chat/completions",
        ("openai/chat_request.json",),
        (
            ("text/event-stream", "openai/chat_stream.sse"),
            ("application/json", "anthropic/messages_response.json"),
        ),
    ),
    HttpEndpoint(
        "anthropic",
        "/v1/messages",
        ("anthropic/messages_request.json",),
        (
            ("application/json", "anthropic/messages_response.json"),
            ("text/event-stream", "anthropic/messages_stream.sse"),
            ("text/event-stream", "anthropic/malformed_stream.sse"),
        ),
    ),
    HttpEndpoint("anthropic", "/v1/messages/count_tokens", ("anthropic/messages_request.json",)),
    HttpEndpoint(
        "anthropic",
        "/v1/chat/completions",
        ("openai/chat_request.json",),
        (("text/event-stream", "openai/chat_stream.sse"),),
    ),
    HttpEndpoint(
        "elevenlabs",
        "/v1/text-to-speech/voice1/with-timestamps",
        ("elevenlabs/tts_request.json",),
        (("application/json", "elevenlabs/with_timestamps.json"),),
    ),
    HttpEndpoint(
        "elevenlabs",
        "/v1/text-to-speech/voice1/stream/with-timestamps",
        ("elevenlabs/tts_request.json",),
        (("application/json", "elevenlabs/stream_with_timestamps.ndjson"),),
    ),
    HttpEndpoint(
        "elevenlabs",
        "/v1/text-to-speech/voice1/stream",
        ("elevenlabs/tts_request.json",),
        (("audio/mpeg", "elevenlabs/tts_request.json"),),
    ),
    HttpEndpoint("elevenlabs", "/v1/voices/add", ("elevenlabs/tts_request.json",)),
    HttpEndpoint(
        "openai",
        "/v1/responses",
        ("openai/chat_request.json",),
        (("application/json", "openai/responses.json"), ("text/event-stream", "openai/responses_stream.sse")),
    ),
    HttpEndpoint(
        "openai",
        "/v1/audio/transcriptions",
        ("openai/transcription_request.multipart",),
        (
            ("application/json", "openai/transcription_verbose.json"),
            ("text/event-stream", "openai/transcription_stream.sse"),
            ("text/plain", "openai/transcription.txt"),
            ("text/vtt", "openai/transcription.vtt"),
            ("application/x-subrip", "openai/transcription.srt"),
        ),
        content_type=(FIXTURES / "openai/transcription_request.content-type").read_text().strip(),
    ),
    HttpEndpoint(
        "openai",
        "/v1/audio/speech",
        ("openai/chat_request.json",),
        (("text/event-stream", "openai/speech_stream.sse"), ("audio/mpeg", "openai/transcription.txt")),
    ),
    HttpEndpoint(
        "deepgram",
        "/v1/listen",
        ("deepgram/speak_request.json",),
        (("application/json", "deepgram/prerecorded_diarized.json"),),
        content_type="audio/wav",
    ),
    HttpEndpoint(
        "deepgram",
        "/v1/speak",
        ("deepgram/speak_request.json",),
        (("audio/mpeg", "deepgram/speak_request.json"),),
    ),
)

WS_ENDPOINTS: Final = (
    WsEndpoint(
        "elevenlabs",
        "/v1/text-to-speech/voice1/stream-input",
        ("elevenlabs/ws_client_frames.jsonl",),
        ("elevenlabs/ws_server_frames.jsonl", "elevenlabs/ws_server_malformed.jsonl"),
        (("output_format", "pcm_16000"),),
    ),
    WsEndpoint(
        "gemini",
        "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
        ("gemini/client_frames.jsonl",),
        ("gemini/server_frames.jsonl", "gemini/server_malformed.jsonl"),
    ),
    WsEndpoint(
        "openai",
        "/v1/realtime",
        (
            "openai/realtime_ga_client.jsonl",
            "openai/realtime_beta_client.jsonl",
            "openai/realtime_extra_client.jsonl",
        ),
        (
            "openai/realtime_ga_server.jsonl",
            "openai/realtime_beta_server.jsonl",
            "openai/realtime_extra_server.jsonl",
            "openai/realtime_malformed.jsonl",
        ),
        (("model", "gpt-realtime"),),
    ),
    WsEndpoint(
        "deepgram",
        "/v1/listen",
        ("deepgram/configure_diarize.json",),
        (
            "deepgram/live_results_final.json",
            "deepgram/live_results_interim.json",
            "deepgram/live_speech_started.json",
            "deepgram/live_utterance_end.json",
            "deepgram/live_metadata.json",
            "deepgram/live_error.json",
            "deepgram/malformed_server.jsonl",
        ),
        (("diarize", "true"), ("encoding", "linear16"), ("sample_rate", "16000")),
    ),
    WsEndpoint(
        "deepgram",
        "/v2/listen",
        ("deepgram/configure_diarize.json",),
        (
            "deepgram/flux_start_of_turn.json",
            "deepgram/flux_end_of_turn.json",
            "deepgram/malformed_server.jsonl",
        ),
    ),
    WsEndpoint(
        "deepgram",
        "/v1/speak",
        ("deepgram/speak_request.json",),
        ("deepgram/speak_flushed.json", "deepgram/speak_warning.json"),
    ),
    WsEndpoint(
        "deepgram",
        "/v1/agent/converse",
        ("deepgram/agent_settings.json", "deepgram/agent_function_call_response.json"),
        (
            "deepgram/agent_conversation_user.json",
            "deepgram/agent_conversation_assistant.json",
            "deepgram/agent_function_call_request.json",
            "deepgram/agent_history.json",
            "deepgram/agent_latency_report.json",
            "deepgram/agent_started_speaking.json",
            "deepgram/agent_error.json",
            "deepgram/malformed_agent.jsonl",
        ),
    ),
    WsEndpoint(
        "twilio",
        "/media-stream",
        (
            "twilio/connected.json",
            "twilio/start.json",
            "twilio/media.json",
            "twilio/mark.json",
            "twilio/dtmf.json",
            "twilio/stop.json",
            "twilio/malformed.jsonl",
        ),
        ("twilio/outbound_media.json", "twilio/outbound_mark.json", "twilio/clear.json"),
    ),
)

RESPONSE_HEADERS: Final = ("x-character-count", "content-length", "request-id", "x-request-id")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_lines(name: str) -> list[bytes]:
    return [line for line in fixture_bytes(name).splitlines() if line.strip()]


def messages(names: Sequence[str]) -> list[bytes]:
    """The recorded messages of fixtures: each line of a ``.jsonl`` file, a whole file otherwise."""
    found: list[bytes] = []
    for name in names:
        found.extend(fixture_lines(name) if name.endswith((".jsonl", ".ndjson")) else [fixture_bytes(name)])
    return found


def seeds() -> list[bytes]:
    """Every recorded message: whole files and single lines, for mutation-based generation."""
    found: list[bytes] = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found.append(data)
            if path.suffix in (".jsonl", ".ndjson"):
                found.extend(line for line in data.splitlines() if line.strip())
    return found


def head(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]] = (),
    headers: Sequence[tuple[str, str]] = (),
) -> RequestHead:
    return RequestHead(method, path, MultiDictProxy(MultiDict(query)), CIMultiDictProxy(CIMultiDict(headers)))


def same_text(events: Sequence[Event]) -> list[Event]:
    """What a guard that looked at every text and changed nothing returns: equal copies of text events."""
    return [_with_text(event, None) for event in events]


def rewritten(events: Sequence[Event], rewrite: Callable[[str], str]) -> list[Event]:
    return [_with_text(event, rewrite) for event in events]


def _with_text(event: Event, rewrite: Callable[[str], str] | None) -> Event:
    changes = {}
    for field in ("text", "arguments"):
        value = getattr(event, field, None)
        if isinstance(value, str):
            changes[field] = value if rewrite is None else rewrite(value)
    if not changes:
        return event
    return dataclasses.replace(event, **changes)  # type: ignore[type-var]


def _is_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def check_stream(codec: StreamCodec, data: bytes, cuts: Sequence[int], rewrite: Callable[[str], str]) -> None:
    """Feed ``data`` cut at ``cuts``; check framing, faithful rendering and rewriting."""
    units: list[WireUnit] = []
    try:
        for piece in split(data, cuts):
            units.extend(codec.feed(piece))
        units.extend(codec.end())
    except WireLimitExceeded:
        return
    assert b"".join(unit.raw for unit in units) == data, "framing lost or invented bytes"
    for unit in units:
        if not unit.events:
            continue
        assert codec.render(unit, same_text(unit.events)) == unit.raw, "unchanged text changed the bytes"
        codec.render(unit, rewritten(unit.events, rewrite))


def check_http(
    endpoint: HttpEndpoint,
    body: bytes,
    response: bytes,
    content_type: str,
    status: int,
    header_values: Sequence[str],
    cuts: Sequence[int],
    rewrite: Callable[[str], str],
) -> None:
    """One HTTP exchange of ``endpoint`` with a request ``body`` and a ``response`` body."""
    adapter = build_adapter(endpoint.protocol)
    request_headers = (("Content-Type", endpoint.content_type), ("Content-Length", str(len(body))))
    request = head(endpoint.method, endpoint.path, headers=request_headers)
    codec = adapter.http(request)
    assert codec is not None, f"{endpoint} is not recognised"
    events = codec.request_events(request, body if codec.needs_request_body else None)
    if events:
        unchanged = codec.render_request(same_text(events))
        assert unchanged.body in (None, body), "unchanged text changed the request body"
        codec.render_request(rewritten(events, rewrite))
    headers = CIMultiDict([("Content-Type", content_type)])
    for name, value in zip(RESPONSE_HEADERS, header_values, strict=False):
        headers[name] = value
    stream = codec.response_codec(status, CIMultiDictProxy(headers))
    if stream is not None:
        check_stream(stream, response, cuts, rewrite)


def check_websocket(
    endpoint: WsEndpoint,
    frames: Sequence[tuple[bool, bool, bytes]],
    query: Sequence[tuple[str, str]],
    rewrite: Callable[[str], str],
) -> None:
    """A WebSocket of ``endpoint``: frames are (from the client?, binary?, data)."""
    adapter = build_adapter(endpoint.protocol)
    upgrade = head("GET", endpoint.path, query=(*query, *endpoint.query))
    codec = adapter.websocket(upgrade)
    assert codec is not None, f"{endpoint} is not recognised"
    events = codec.handshake_events(upgrade)
    if events:
        codec.render_handshake(same_text(events))
        codec.render_handshake(rewritten(events, rewrite))
    for from_client, binary, data in frames:
        unit = codec.client_frame(data, binary) if from_client else codec.upstream_frame(data, binary)
        assert unit.raw == data, "a frame's bytes changed on parsing"
        if not unit.events:
            continue
        unchanged = codec.render(unit, same_text(unit.events))
        assert [(frame.raw, frame.binary) for frame in unchanged] == [(data, binary)], (
            "unchanged text changed the frame"
        )
        for frame in codec.render(unit, rewritten(unit.events, rewrite)):
            if not binary and _is_json(data) and frame.raw:
                assert _is_json(frame.raw), "a rewritten JSON frame is no longer JSON"


def check_sse_splitter(data: bytes, cuts: Sequence[int], limit: int) -> None:
    from voiceguard.protocols.sse import SseSplitter

    splitter = SseSplitter(limit)
    events = []
    try:
        for piece in split(data, cuts):
            events.extend(splitter.feed(piece))
        events.extend(splitter.end())
    except WireLimitExceeded:
        return
    assert b"".join(event.raw for event in events) == data
