"""SSE framing: whole events whatever the chunking, exact bytes kept."""

from __future__ import annotations

import pytest

from voiceguard.protocols.sse import SseSplitter, WireLimitExceeded, format_event, parse_event

STREAM = (
    b'event: response.output_text.delta\ndata: {"delta": "Hi"}\n\n: keep-alive comment\n\ndata: [DONE]\n\n'
)


@pytest.mark.parametrize("chunk_size", [1, 2, 5, 7, 1000])
def test_events_are_whole_and_byte_exact_under_any_chunking(chunk_size: int) -> None:
    splitter = SseSplitter(1024)
    events = []
    for offset in range(0, len(STREAM), chunk_size):
        events.extend(splitter.feed(STREAM[offset : offset + chunk_size]))
    events.extend(splitter.end())
    assert b"".join(event.raw for event in events) == STREAM
    assert [(e.event, e.data) for e in events] == [
        ("response.output_text.delta", b'{"delta": "Hi"}'),
        (None, None),
        (None, b"[DONE]"),
    ]


def test_crlf_streams_and_multiline_data() -> None:
    event = parse_event(b"data: line one\r\ndata: line two\r\n\r\n")
    assert event.data == b"line one\nline two"
    splitter = SseSplitter(1024)
    assert [e.data for e in splitter.feed(b"data: a\r\n\r\ndata: b\r\n\r\n")] == [b"a", b"b"]


def test_a_trailing_event_without_blank_line_is_kept_at_end() -> None:
    splitter = SseSplitter(1024)
    assert splitter.feed(b"data: tail") == []
    [tail] = splitter.end()
    assert (tail.raw, tail.data) == (b"data: tail", b"tail")


def test_an_event_larger_than_the_limit_is_refused() -> None:
    splitter = SseSplitter(16)
    with pytest.raises(WireLimitExceeded):
        splitter.feed(b"data: " + b"x" * 64)


def test_formatted_events_parse_back() -> None:
    raw = format_event(b'{"a": 1}', "done")
    assert raw == b'event: done\ndata: {"a": 1}\n\n'
    assert parse_event(raw).data == b'{"a": 1}'
