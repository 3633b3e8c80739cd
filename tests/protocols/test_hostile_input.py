"""Inputs too big for property tests to draw: megabyte frames, thousand-deep nesting, events in tiny chunks.

Each goes through every adapter's WebSocket codec (both directions) or stream codec and must pass through
byte for byte, or be refused with the documented ``WireLimitExceeded``; never crash the parser.
"""

from __future__ import annotations

import orjson
import pytest

from tests.fuzz.targets import (
    HTTP_ENDPOINTS,
    REWRITES,
    WS_ENDPOINTS,
    HttpEndpoint,
    WsEndpoint,
    check_http,
    check_stream,
    check_websocket,
    fixture_bytes,
    head,
)
from voiceguard.protocols import build_adapter, jsonspan
from voiceguard.protocols.sse import SseSplitter, WireLimitExceeded

MIB = 1024 * 1024

HOSTILE_FRAMES = {
    "8 MiB text value": orjson.dumps({"text": "x" * (8 * MIB), "type": "response.text.delta", "delta": "y"}),
    "nested 1000 deep": b'{"text": "hi", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "invalid utf-8 in a text frame": b'{"text": "caf\xc3 \xff\xfe", "audio": "AQID"}',
    "invalid base64 audio": (
        b'{"audio": "@@@not*base64", "realtimeInput": {"audio": {"data": "%%%%"}}, "isFinal": false}'
    ),
    "lone surrogate escape": b'{"text": "\\ud800 and \\udfff"}',
    "huge number": b'{"text": 1' + b"0" * 5000 + b"}",
    "many keys": orjson.dumps({f"k{n}": n for n in range(50_000)}),
}


@pytest.mark.parametrize("endpoint", WS_ENDPOINTS, ids=lambda e: e.protocol)
@pytest.mark.parametrize("case", list(HOSTILE_FRAMES))
def test_hostile_websocket_frames_pass_through_untouched(endpoint: WsEndpoint, case: str) -> None:
    data = HOSTILE_FRAMES[case]
    frames = [(from_client, binary, data) for from_client in (True, False) for binary in (False, True)]
    check_websocket(endpoint, frames, (), REWRITES[2])


def test_a_document_nested_past_the_recursion_limit_is_walked_without_recursion() -> None:
    raw = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b', "b": "x"}'
    start, end = jsonspan.find(raw, ("b",))
    assert raw[start:end] == b'"x"'
    assert orjson.loads(jsonspan.edit(raw, [(("b",), "y")]).replace(b"[" * 5000 + b"]" * 5000, b"[]")) == {
        "a": [],
        "b": "y",
    }


@pytest.mark.parametrize("endpoint", [e for e in HTTP_ENDPOINTS if e.response_seeds], ids=lambda e: e.path)
def test_a_response_past_the_buffer_limit_is_refused_not_buffered(endpoint: HttpEndpoint) -> None:
    content_type, _seed = endpoint.response_seeds[0]
    codec = build_adapter(endpoint.protocol).http(head("POST", endpoint.path))
    assert codec is not None
    stream = codec.response_codec(200, {"Content-Type": content_type})
    if stream is None or content_type.startswith("audio/"):
        pytest.skip("streamed through, never buffered")
    chunk = b"data: " + b"x" * (MIB - 6)
    fed = 0
    with pytest.raises(WireLimitExceeded):  # noqa: PT012 (the limit is whatever the adapter buffers at most)
        while fed < 64:
            stream.feed(chunk)
            fed += 1
    assert 0 < fed < 64


def test_an_event_arriving_in_thousands_of_chunks_is_still_one_event() -> None:
    splitter = SseSplitter(8 * MIB)
    pieces = [b"data: "] + [b"ab" * 512] * 4000 + [b"\r\n", b"\r\n"]
    events = [event for piece in pieces for event in splitter.feed(piece)]
    assert len(events) == 1 and events[0].raw == b"".join(pieces)


@pytest.mark.parametrize("endpoint", [e for e in HTTP_ENDPOINTS if e.response_seeds], ids=lambda e: e.path)
def test_a_recorded_response_cut_byte_by_byte_renders_faithfully(endpoint: HttpEndpoint) -> None:

    content_type, seed = endpoint.response_seeds[0]
    data = fixture_bytes(seed)
    codec = build_adapter(endpoint.protocol).http(head("POST", endpoint.path))
    assert codec is not None
    stream = codec.response_codec(200, {"Content-Type": content_type})
    if stream is not None:
        check_stream(stream, data, list(range(len(data))), REWRITES[0])


def test_a_multipart_upload_cut_anywhere_is_forwarded_as_it_came() -> None:
    [endpoint] = [e for e in HTTP_ENDPOINTS if e.path.endswith("/audio/transcriptions")]
    body = fixture_bytes(endpoint.request_seeds[0])
    for cut in range(0, len(body), 7):
        check_http(endpoint, body[:cut], b"", "application/json", 200, (), (), REWRITES[2])
