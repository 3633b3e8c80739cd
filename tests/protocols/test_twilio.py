"""Twilio Media Streams: recorded messages parse into events; DTMF is text; audio is counted, not decoded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from voiceguard.events import AudioChunk, CallerInfo, Direction, PlaybackTruncated, Transcript, WireAnomaly
from voiceguard.protocols.base import RequestHead
from voiceguard.protocols.twilio import MediaStreamCodec, TwilioAdapter, caller_number

FIXTURES = Path(__file__).parent.parent / "fixtures" / "twilio"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def started() -> MediaStreamCodec:
    codec = MediaStreamCodec()
    codec.client_frame(fixture("connected.json"), False)
    codec.client_frame(fixture("start.json"), False)
    return codec


def test_every_socket_of_a_twilio_route_is_a_media_stream_and_http_is_relayed() -> None:
    head = RequestHead("GET", "/media", MultiDictProxy(MultiDict()), CIMultiDictProxy(CIMultiDict()))
    assert isinstance(TwilioAdapter().websocket(head), MediaStreamCodec)
    assert TwilioAdapter().http(head) is None


def test_start_names_the_caller_and_the_call() -> None:
    codec = MediaStreamCodec()
    assert codec.client_frame(fixture("connected.json"), False).events == []
    assert codec.client_frame(fixture("start.json"), False).events == [
        CallerInfo(phone_number="+13125550100", call_sid="CA0123456789abcdef0123456789abcdef")
    ]


@pytest.mark.parametrize(
    ("parameters", "number"),
    [
        ({"from": "+4930123"}, "+4930123"),
        ({"Caller": " +4930123 "}, "+4930123"),
        ({"caller_number": "+331"}, "+331"),
        ({"agent": "billing"}, None),
        ({"from": ""}, None),
    ],
)
def test_the_caller_number_is_read_from_documented_parameter_names(
    parameters: dict[str, str], number: str | None
) -> None:
    assert caller_number(parameters) == number


def test_media_is_counted_from_its_base64_length() -> None:
    codec = started()
    unit = codec.client_frame(fixture("media.json"), False)
    assert unit.events == [AudioChunk(Direction.TO_UPSTREAM, 160, 0.02, "mulaw", 8000)]
    assert codec.upstream_frame(fixture("outbound_media.json"), False).events == [
        AudioChunk(Direction.TO_CLIENT, 320, 0.04, "mulaw", 8000)
    ]


def test_marks_and_stop_pass_without_events_and_clear_is_a_truncation() -> None:
    codec = started()
    assert codec.client_frame(fixture("mark.json"), False).events == []
    assert codec.client_frame(fixture("stop.json"), False).events == []
    assert codec.upstream_frame(fixture("outbound_mark.json"), False).events == []
    assert codec.upstream_frame(fixture("clear.json"), False).events == [PlaybackTruncated()]


def test_the_other_legs_outbound_track_is_relayed_without_events() -> None:
    codec = started()
    raw = fixture("media.json").replace(b'"track":"inbound"', b'"track":"outbound"')
    assert codec.client_frame(raw, False).events == []


def test_dtmf_digits_are_text_a_guard_can_rewrite() -> None:
    codec = started()
    raw = fixture("dtmf.json")
    unit = codec.client_frame(raw, False)
    (digit,) = unit.events
    assert isinstance(digit, Transcript) and digit.text == "4" and digit.stream == "dtmf" and digit.is_final
    (frame,) = codec.render(unit, [dataclasses.replace(digit, text="*")])
    assert frame.raw == raw.replace(b'"digit":"4"', b'"digit":"*"')


def test_a_held_digit_is_not_forwarded_and_a_released_one_is_sent_as_dtmf() -> None:
    codec = started()
    unit = codec.client_frame(fixture("dtmf.json"), False)
    assert codec.render(unit, []) == []
    later = codec.client_frame(fixture("dtmf.json"), False)
    (digit,) = later.events
    frames = codec.render(later, [Transcript("12", stream="dtmf"), digit])
    assert [orjson.loads(f.raw)["dtmf"]["digit"] for f in frames[:2]] == ["1", "2"]
    assert orjson.loads(frames[0].raw)["streamSid"] == "MZ0123456789abcdef0123456789abcdef"
    assert frames[2].raw == later.raw


def test_the_media_format_of_start_sets_how_audio_is_counted() -> None:
    codec = MediaStreamCodec()
    start = orjson.loads(fixture("start.json"))
    start["start"]["mediaFormat"] = {"encoding": "audio/x-alaw", "sampleRate": 16000, "channels": 1}
    codec.client_frame(orjson.dumps(start), False)
    assert codec.client_frame(fixture("media.json"), False).events == [
        AudioChunk(Direction.TO_UPSTREAM, 160, 0.01, "alaw", 16000)
    ]


def test_malformed_messages_are_counted_forwarded_untouched_and_never_crash() -> None:
    codec = started()
    kinds = []
    for line in fixture("malformed.jsonl").splitlines():
        unit = codec.client_frame(line, False)
        assert [f.raw for f in codec.render(unit, unit.events)] == [line]
        kinds.append([e.kind for e in unit.events if isinstance(e, WireAnomaly)])
    assert kinds == [
        ["invalid_base64"],
        ["missing_field"],
        ["missing_field"],
        ["missing_field"],
        [],
        [],
        ["malformed_json"],
        ["malformed_json"],
        [],
        [],
    ]
    assert codec.client_frame(b"\x00\x01", True).events == [WireAnomaly("unexpected_binary", "media_stream")]
