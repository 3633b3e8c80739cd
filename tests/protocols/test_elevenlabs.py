"""ElevenLabs: recorded TTS requests, audio, alignments and stream-input frames parse and render back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from tests.protocols.wire import events_of, head, render_all, replaced, units_of
from voiceguard.events import (
    AgentText,
    AudioChunk,
    BiometricFeature,
    BiometricRequest,
    Direction,
    ResponseDone,
    TextDelta,
    TTSText,
    UpstreamError,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols.base import RequestEdit, WireUnit
from voiceguard.protocols.elevenlabs import ElevenLabsAdapter, SpeechCodec, VoiceCloningCodec
from voiceguard.protocols.elevenlabs_ws import StreamInputCodec

FIXTURES = Path(__file__).parent.parent / "fixtures" / "elevenlabs"
TTS = "/v1/text-to-speech/voice123"


def speech(path: str = TTS, output_format: str | None = None) -> tuple[SpeechCodec, list]:  # type: ignore[type-arg]
    codec = ElevenLabsAdapter().http(head("POST", path))
    assert isinstance(codec, SpeechCodec)
    query = {"output_format": output_format} if output_format else None
    events = codec.request_events(head("POST", path, query), (FIXTURES / "tts_request.json").read_bytes())
    return codec, events


def socket(output_format: str = "pcm_16000") -> StreamInputCodec:
    codec = ElevenLabsAdapter().websocket(
        head("GET", f"{TTS}/stream-input", {"output_format": output_format})
    )
    assert isinstance(codec, StreamInputCodec)
    return codec


def frames(name: str) -> list[bytes]:
    return [line.encode() for line in (FIXTURES / name).read_text().splitlines()]


@pytest.mark.parametrize(
    "path",
    [TTS, f"{TTS}/stream", f"{TTS}/with-timestamps", f"{TTS}/stream/with-timestamps"],
)
def test_every_text_to_speech_variant_is_recognised(path: str) -> None:
    assert isinstance(ElevenLabsAdapter().http(head("POST", path)), SpeechCodec)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/voices/add",
        "/v1/voices/pvc",
        "/v1/voices/pvc/v1/samples",
        "/v1/speech-to-speech/v1/stream",
        "/v1/dubbing",
    ],
)
def test_voice_cloning_endpoints_surface_as_a_biometric_request(path: str) -> None:
    codec = ElevenLabsAdapter().http(head("POST", path))
    assert isinstance(codec, VoiceCloningCodec) and not codec.needs_request_body
    assert codec.request_events(head("POST", path), None) == [
        BiometricRequest(BiometricFeature.VOICE_CLONING, strippable=False)
    ]


def test_a_voice_clone_turned_off_cannot_be_stripped_so_the_request_is_unsendable() -> None:
    codec = VoiceCloningCodec()
    [event] = codec.request_events(head("POST", "/v1/voices/add"), None)
    assert codec.render_request([event]) == RequestEdit()
    assert codec.render_request([dataclasses.replace(event, enabled=False)]).unsendable == "voice_cloning"
    assert codec.render_request([]).unsendable == "voice_cloning"


def test_other_paths_and_sockets_are_relayed_untouched() -> None:
    adapter = ElevenLabsAdapter()
    assert adapter.http(head("GET", "/v1/voices")) is None
    assert adapter.http(head("POST", "/v1/sound-generation")) is None
    assert adapter.websocket(head("GET", "/v1/convai/conversation")) is None


def test_request_texts_are_the_text_and_its_context_each_its_own_stream() -> None:
    _codec, events = speech()
    assert [(e.text, e.voice) for e in events] == [
        ("Your code is 4921, thanks.", "voice123"),
        ("Hello Ana.", "voice123"),
    ]
    assert events[1].stream == events[0].stream + ".previous"


def test_request_rewrite_changes_only_the_rewritten_bytes() -> None:
    codec, events = speech()
    raw = (FIXTURES / "tts_request.json").read_bytes()
    assert codec.render_request(events).body is None
    assert codec.render_request(replaced(events, "4921", "####")).body == raw.replace(b"4921", b"####")


@pytest.mark.parametrize(
    ("output_format", "seconds", "encoding"),
    [
        ("pcm_16000", 0.5, "pcm"),
        ("ulaw_8000", 2.0, "ulaw"),
        ("mp3_44100_128", 1.0, "mp3"),
        ("opus_48000_64", 2.0, "opus"),
    ],
)
def test_binary_audio_is_metadata_with_seconds_from_the_output_format(
    output_format: str, seconds: float, encoding: str
) -> None:
    codec, _ = speech(f"{TTS}/stream", output_format)
    stream = codec.response_codec(200, {"Content-Type": "audio/mpeg", "x-character-count": "26"})
    assert stream is not None
    [unit] = stream.feed(b"\x00" * 16_000)
    [audio] = unit.events
    assert isinstance(audio, AudioChunk) and audio.direction is Direction.TO_CLIENT
    assert (audio.n_bytes, audio.seconds, audio.encoding) == (16_000, seconds, encoding)
    assert stream.render(unit, []) == unit.raw
    [end] = stream.end()
    assert end.events == [Usage(characters=26), ResponseDone()]


def test_error_responses_are_relayed_without_parsing() -> None:
    codec, _ = speech()
    assert codec.response_codec(401, {"Content-Type": "application/json"}) is None


def test_with_timestamps_reply_gives_audio_and_both_alignments_as_spoken_text() -> None:
    codec, _ = speech(f"{TTS}/with-timestamps", "pcm_16000")
    stream = codec.response_codec(200, {"Content-Type": "application/json"})
    assert stream is not None
    raw = (FIXTURES / "with_timestamps.json").read_bytes()
    stream.feed(raw)
    [unit] = stream.end()
    audio, original, normalized, done = unit.events
    assert isinstance(audio, AudioChunk) and audio.n_bytes == 1600 and audio.seconds == 0.05
    assert isinstance(original, AgentText) and (original.text, original.spoken) == ("Code 4921.", True)
    assert isinstance(normalized, AgentText) and normalized.text == "Code four nine two one."
    assert done == ResponseDone()


def test_rewriting_alignment_text_of_equal_length_changes_only_those_characters() -> None:
    codec, _ = speech(f"{TTS}/with-timestamps")
    stream = codec.response_codec(200, {})
    assert stream is not None
    raw = (FIXTURES / "with_timestamps.json").read_bytes()
    stream.feed(raw)
    [unit] = stream.end()
    out = stream.render(unit, replaced(unit.events, "4921", "####"))
    expected = raw.replace(b'"4", "9", "2", "1"', b'"#", "#", "#", "#"')
    assert out == expected


def test_rewriting_alignment_text_to_another_length_keeps_the_arrays_consistent() -> None:
    codec, _ = speech(f"{TTS}/with-timestamps")
    stream = codec.response_codec(200, {})
    assert stream is not None
    stream.feed((FIXTURES / "with_timestamps.json").read_bytes())
    [unit] = stream.end()
    out = orjson.loads(stream.render(unit, replaced(unit.events, "four nine two one", "[code]")))
    aligned = out["normalized_alignment"]
    starts, ends = aligned["character_start_times_seconds"], aligned["character_end_times_seconds"]
    assert "".join(aligned["characters"]) == "Code [code]."
    assert len(starts) == len(ends) == len("Code [code].")
    assert starts == sorted(starts) and all(s <= e for s, e in zip(starts, ends, strict=True))
    assert out["alignment"] == orjson.loads((FIXTURES / "with_timestamps.json").read_bytes())["alignment"]


def test_streamed_timestamps_are_one_unit_per_line_and_render_back_byte_for_byte() -> None:
    codec, _ = speech(f"{TTS}/stream/with-timestamps")
    stream = codec.response_codec(200, {"x-character-count": "10"})
    assert stream is not None
    data = (FIXTURES / "stream_with_timestamps.ndjson").read_bytes()
    units = units_of(stream, data, chunk=500)
    assert b"".join(u.raw for u in units) == data
    texts = [e.text for e in events_of(units) if isinstance(e, TextDelta)]
    assert texts == ["Code ", "Code ", "4921.", "four nine two one."]
    assert render_all(stream, units, "4921", "####") == data.replace(
        b'"4", "9", "2", "1"', b'"#", "#", "#", "#"'
    )
    assert events_of(units)[-2:] == [Usage(characters=10), ResponseDone()]


def test_alignment_text_held_in_one_chunk_is_released_into_the_next() -> None:
    codec, _ = speech(f"{TTS}/stream/with-timestamps")
    stream = codec.response_codec(200, {})
    assert stream is not None
    units = units_of(stream, (FIXTURES / "stream_with_timestamps.ndjson").read_bytes())
    first, second = units[0], units[1]
    held = [
        e
        for e in first.events
        if not (isinstance(e, TextDelta) and e.text == "Code " and not e.stream.endswith("normalized"))
    ]
    assert orjson.loads(stream.render(first, held))["alignment"]["characters"] == []
    own = [e for e in second.events if not (isinstance(e, TextDelta) and not e.stream.endswith("normalized"))]
    stream_name = next(e.stream for e in second.events if isinstance(e, TextDelta))
    released = TextDelta("Code ####.", stream_name)
    line = orjson.loads(stream.render(second, [released, *own]))
    assert "".join(line["alignment"]["characters"]) == "Code ####."
    assert len(line["alignment"]["character_start_times_seconds"]) == len("Code ####.")


def test_stream_input_client_frames_are_tts_text_and_never_carry_the_key() -> None:
    codec = socket()
    units = [codec.client_frame(frame, False) for frame in frames("ws_client_frames.jsonl")]
    events = events_of(units)
    assert [(e.text, e.voice) for e in events if isinstance(e, TTSText)] == [
        ("Your code is ", "voice123"),
        ("4921. ", "voice123"),
        ("", "voice123"),
    ]
    assert "sk-secret-in-frame" not in repr(events)
    assert units[0].events == []


def test_a_held_text_frame_is_dropped_and_released_as_frames_of_its_own() -> None:
    codec = socket()
    units = [codec.client_frame(frame, False) for frame in frames("ws_client_frames.jsonl")]
    assert codec.render(units[1], []) == []
    flushed = codec.render(units[2], [])
    assert [orjson.loads(f.raw) for f in flushed] == [
        {"text": " ", "try_trigger_generation": True, "flush": True}
    ]
    [release_event] = [dataclasses.replace(units[1].events[0], text="Your code is ####. ", origin=None)]
    end = codec.render(units[3], [release_event])
    assert [orjson.loads(f.raw) for f in end] == [
        {"text": "Your code is ####. ", "try_trigger_generation": True},
        {"text": ""},
    ]


def test_the_end_of_input_marker_can_never_be_held() -> None:
    codec = socket()
    units = [codec.client_frame(frame, False) for frame in frames("ws_client_frames.jsonl")]
    assert [f.raw for f in codec.render(units[3], [])] == [units[3].raw]


def test_stream_input_server_frames_are_audio_alignments_and_the_final_marker() -> None:
    codec = socket("pcm_16000")
    units = [codec.upstream_frame(frame, False) for frame in frames("ws_server_frames.jsonl")]
    events = events_of(units)
    audio = [e for e in events if isinstance(e, AudioChunk)]
    assert [(a.n_bytes, a.seconds, a.sample_rate) for a in audio] == [(1600, 0.05, 16000)] * 2
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "Your code is ",
        "Your code is ",
        "4921. ",
        "four nine two one. ",
    ]
    assert events[-1] == ResponseDone()


def test_stream_input_alignment_rewrite_changes_only_those_characters() -> None:
    codec = socket()
    raw = frames("ws_server_frames.jsonl")[1]
    unit = codec.upstream_frame(raw, False)
    [out] = codec.render(unit, replaced(unit.events, "4921", "####"))
    assert out.raw == raw.replace(b'"4", "9", "2", "1"', b'"#", "#", "#", "#"')


def test_text_released_after_the_last_audio_goes_out_as_an_alignment_only_frame() -> None:
    codec = socket()
    units = [codec.upstream_frame(frame, False) for frame in frames("ws_server_frames.jsonl")]
    stream = next(
        e.stream for e in units[1].events if isinstance(e, TextDelta) and not e.stream.endswith("normalized")
    )
    out = codec.render(units[2], [TextDelta("tail", stream), *units[2].events])
    extra = orjson.loads(out[0].raw)
    assert extra["audio"] == "" and extra["alignment"]["chars"] == list("tail")
    assert extra["alignment"]["charStartTimesMs"] == [1102] * 4
    assert out[1].raw == units[2].raw


def test_malformed_server_frames_pass_untouched_and_are_counted() -> None:
    codec = socket()
    units: list[WireUnit] = [
        codec.upstream_frame(frame, False) for frame in frames("ws_server_malformed.jsonl")
    ]
    events = events_of(units)
    assert [e.kind for e in events if isinstance(e, WireAnomaly)] == [
        "invalid_base64",
        "bad_json",
        "bad_alignment",
        "not_an_object",
    ]
    assert UpstreamError(code="quota_exceeded", message="", error_type="quota_exceeded") in events
    assert units[4].events == []
    for unit, frame in zip(units, frames("ws_server_malformed.jsonl"), strict=True):
        assert unit.raw == frame


def test_text_released_next_to_a_broken_frame_still_reaches_the_client() -> None:
    codec = socket()
    stream = next(
        e.stream
        for e in codec.upstream_frame(frames("ws_server_frames.jsonl")[0], False).events
        if isinstance(e, TextDelta)
    )
    unit = codec.upstream_frame(b'{"audio": ', False)
    out = codec.render(unit, [TextDelta("tail", stream), *unit.events])
    assert orjson.loads(out[0].raw)["alignment"]["chars"] == list("tail")
    assert out[1].raw == b'{"audio": '
    line_codec, _ = speech(f"{TTS}/stream/with-timestamps")
    lines = line_codec.response_codec(200, {})
    assert lines is not None
    [broken] = lines.feed(b'{"audio_base64": \n')
    rendered = lines.render(broken, [TextDelta("tail", "voice123#1"), *broken.events])
    assert rendered.endswith(b'{"audio_base64": \n') and b'"characters":["t","a","i","l"]' in rendered
