"""OpenAI Realtime: recorded frames of every event type parse into events and render back byte for byte."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from voiceguard.events import (
    AgentText,
    AudioChunk,
    Direction,
    Event,
    LLMRequest,
    PlaybackTruncated,
    PromptText,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    TextDelta,
    TextRole,
    ToolCall,
    Transcript,
    UpstreamError,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols.base import RequestHead, WireUnit
from voiceguard.protocols.openai_realtime import RealtimeCodec
from voiceguard.protocols.openai_rest import OpenAIAdapter

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"


def head(path: str = "/v1/realtime", model: str = "gpt-realtime") -> RequestHead:
    return RequestHead(
        "GET", path, MultiDictProxy(MultiDict({"model": model})), CIMultiDictProxy(CIMultiDict())
    )


def frames(name: str) -> list[bytes]:
    return [line for line in (FIXTURES / name).read_bytes().splitlines() if line.strip()]


def replay(codec: RealtimeCodec, client: list[bytes], server: list[bytes]) -> list[WireUnit]:
    units = [codec.client_frame(frame, False) for frame in client]
    return units + [codec.upstream_frame(frame, False) for frame in server]


def kinds(units: list[WireUnit]) -> dict[str, set[str]]:
    """Which event classes each wire event type produced."""
    seen: dict[str, set[str]] = {}
    for unit in units:
        wire_type = orjson.loads(unit.raw)["type"]
        seen.setdefault(wire_type, set()).update(type(e).__name__ for e in unit.events)
    return seen


def test_adapter_hands_realtime_sockets_to_the_realtime_codec() -> None:
    adapter = OpenAIAdapter()
    assert isinstance(adapter.websocket(head()), RealtimeCodec)
    assert adapter.websocket(head("/v1/other")) is None


@pytest.mark.parametrize("api", ["ga", "beta"])
def test_every_recorded_frame_parses_without_anomalies(api: str) -> None:
    codec = RealtimeCodec(head())
    units = replay(codec, frames(f"realtime_{api}_client.jsonl"), frames(f"realtime_{api}_server.jsonl"))
    assert not [e for u in units for e in u.events if isinstance(e, WireAnomaly)]
    seen = kinds(units)
    audio_delta = "response.output_audio.delta" if api == "ga" else "response.audio.delta"
    transcript_delta = (
        "response.output_audio_transcript.delta" if api == "ga" else "response.audio_transcript.delta"
    )
    transcript_done = (
        "response.output_audio_transcript.done" if api == "ga" else "response.audio_transcript.done"
    )
    text_delta = "response.output_text.delta" if api == "ga" else "response.text.delta"
    expected = {
        "session.update": {"PromptText"},
        "input_audio_buffer.append": {"AudioChunk"},
        "conversation.item.create": {"PromptText"},
        "response.create": {"LLMRequest", "PromptText"},
        "conversation.item.truncate": {"PlaybackTruncated"},
        "session.created": {"PromptText"},
        "input_audio_buffer.speech_started": {"SpeechStarted"},
        "input_audio_buffer.speech_stopped": {"SpeechStopped"},
        "conversation.item.input_audio_transcription.delta": {"Transcript"},
        "conversation.item.input_audio_transcription.completed": {"Transcript"},
        "response.created": {"ResponseStarted"},
        audio_delta: {"AudioChunk"},
        transcript_delta: {"TextDelta"},
        transcript_done: {"AgentText"},
        text_delta: {"TextDelta"},
        "response.function_call_arguments.delta": {"ToolCall"},
        "response.function_call_arguments.done": {"ToolCall"},
        "response.done": {"AgentText", "ToolCall", "Usage", "ResponseDone"},
        "error": {"UpstreamError"},
        "input_audio_buffer.committed": set(),
        "input_audio_buffer.cleared": set(),
        "conversation.item.truncated": set(),
        "response.cancel": set(),
        "input_audio_buffer.clear": set(),
    }
    for wire_type, events in expected.items():
        assert seen[wire_type] == events, wire_type


def test_audio_frames_are_measured_from_their_base64_length() -> None:
    codec = RealtimeCodec(head())
    append = frames("realtime_ga_client.jsonl")[1]
    [chunk] = codec.client_frame(append, False).events
    assert chunk == AudioChunk(Direction.TO_UPSTREAM, 960, 0.02, "pcm16", 24_000)
    delta = next(f for f in frames("realtime_ga_server.jsonl") if b"response.output_audio.delta" in f)
    [out] = codec.upstream_frame(delta, False).events
    decoded = len(orjson.loads(delta)["delta"]) * 3 // 4 - orjson.loads(delta)["delta"].count("=")
    assert isinstance(out, AudioChunk) and out.direction is Direction.TO_CLIENT
    assert (out.n_bytes, out.seconds) == (decoded, decoded / 48_000)


def test_fast_and_full_parse_agree_when_the_type_is_not_first() -> None:
    codec = RealtimeCodec(head())
    reordered = b'{"event_id": "e1", "audio": "AAAAAAAAAAAA", "type": "input_audio_buffer.append"}'
    escaped = b'{"type": "input_audio_buffer.append", "audio": "AA\\/AAAAA"}'
    assert codec.client_frame(reordered, False).events == [
        AudioChunk(Direction.TO_UPSTREAM, 9, 9 / 48_000, "pcm16", 24_000)
    ]
    assert codec.client_frame(escaped, False).events == [
        AudioChunk(Direction.TO_UPSTREAM, 6, 6 / 48_000, "pcm16", 24_000)
    ]


@pytest.mark.parametrize(
    ("update", "encoding"),
    [
        (3, "g711_ulaw"),  # GA {"type": "audio/pcmu"}
        (4, "g711_ulaw"),  # beta "g711_ulaw"
    ],
)
def test_negotiated_g711_formats_give_seconds_at_8_khz(update: int, encoding: str) -> None:
    codec = RealtimeCodec(head())
    codec.client_frame(frames("realtime_extra_client.jsonl")[update], False)
    [chunk] = codec.client_frame(b'{"type": "input_audio_buffer.append", "audio": "AAAAAAAA"}', False).events
    assert chunk == AudioChunk(Direction.TO_UPSTREAM, 6, 6 / 8000, encoding, 8000)
    [out] = codec.upstream_frame(b'{"type":"response.output_audio.delta","delta":"AAAA"}', False).events
    assert out == AudioChunk(Direction.TO_CLIENT, 3, 3 / 8000, "g711_alaw", 8000)


def test_server_session_sets_the_pcm_rate() -> None:
    codec = RealtimeCodec(head())
    session = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}
    codec.upstream_frame(orjson.dumps({"type": "session.updated", "session": session}), False)
    [chunk] = codec.client_frame(b'{"type": "input_audio_buffer.append", "audio": "AAAA"}', False).events
    assert chunk == AudioChunk(Direction.TO_UPSTREAM, 3, 3 / 32_000, "pcm16", 16_000)


def test_extra_client_events_carry_their_texts_and_audio() -> None:
    codec = RealtimeCodec(head())
    commit, item, create, *_rest = frames("realtime_extra_client.jsonl")
    assert codec.client_frame(commit, False).events == []
    item_events = codec.client_frame(item, False).events
    assert [type(e) for e in item_events] == [PromptText, AudioChunk]
    assert item_events[0] == PromptText("my pin is 1234", TextRole.USER)
    create_events = codec.client_frame(create, False).events
    assert create_events[0] == LLMRequest("gpt-realtime", True, 1, ("lookup_account",))
    assert [e.text for e in create_events if isinstance(e, PromptText)] == [
        "Answer briefly.",
        "Summarise my account 12345678",
    ]
    transcription = codec.client_frame(frames("realtime_extra_client.jsonl")[5], False).events
    assert transcription == [PromptText("Names: Jane Roe", TextRole.INSTRUCTIONS)]


def test_extra_server_events_map_to_their_meaning() -> None:
    codec = RealtimeCodec(head())
    units = [codec.upstream_frame(frame, False) for frame in frames("realtime_extra_server.jsonl")]
    events = [e for u in units for e in u.events]
    assert not [e for e in events if isinstance(e, WireAnomaly)]
    assert Transcript("My SSN is 078-05-1120", is_final=False, stream="item_d1") in events
    assert UpstreamError("audio_unintelligible", "", "transcription_error") in events
    assert events.count(AgentText("Your balance is 42 dollars.", "item_t2")) == 2
    assert Transcript("call me on 555 0100", stream="item_t3") in events
    assert AudioChunk(Direction.TO_CLIENT, 8, 8 / 48_000, "pcm16", 24_000) in events
    assert UpstreamError("invalid_value", "", "invalid_request_error") in events
    assert Usage("gpt-realtime", 200, 100, 150, 80, 64) in events
    assert events[-1] == ResponseDone("resp_t4", "incomplete", "max_output_tokens")


def test_speech_events_carry_audio_positions_and_truncation_its_playback_point() -> None:
    codec = RealtimeCodec(head())
    server = [codec.upstream_frame(f, False).events for f in frames("realtime_ga_server.jsonl")]
    started = next(e for events in server for e in events if isinstance(e, SpeechStarted))
    stopped = next(e for events in server for e in events if isinstance(e, SpeechStopped))
    assert (started.audio_s, stopped.audio_s) == (0.0, 0.5)
    assert started.item_id == stopped.item_id is not None
    truncate = next(f for f in frames("realtime_ga_client.jsonl") if b"truncate" in f)
    assert codec.client_frame(truncate, False).events == [PlaybackTruncated("item_abc", 1500)]


def test_response_lifecycle_and_cancellation() -> None:
    codec = RealtimeCodec(head())
    events = [e for f in frames("realtime_ga_server.jsonl") for e in codec.upstream_frame(f, False).events]
    assert sum(isinstance(e, ResponseStarted) for e in events) == 4
    done = [e for e in events if isinstance(e, ResponseDone)]
    assert [d.status for d in done] == ["completed", "completed", "completed", "cancelled"]
    assert done[-1].finish_reason == "client_cancelled"
    calls = [e for e in events if isinstance(e, ToolCall) and e.complete]
    assert {c.name for c in calls} == {"lookup_card"} and calls[0].arguments == '{"last4": "1111"}'


@pytest.mark.parametrize(
    "case", [orjson.loads(line) for line in (FIXTURES / "realtime_malformed.jsonl").read_bytes().splitlines()]
)
def test_malformed_frames_are_forwarded_untouched_and_counted(case: dict[str, object]) -> None:
    codec = RealtimeCodec(head())
    raw = str(case["frame"]).encode()
    unit = codec.client_frame(raw, False) if case["client"] else codec.upstream_frame(raw, False)
    assert [type(e) for e in unit.events] == [WireAnomaly]
    assert isinstance(unit.events[0], WireAnomaly) and unit.events[0].kind == case["kind"]
    assert unit.raw is raw
    assert [f.raw for f in codec.render(unit, list(unit.events))] == [raw]


def test_binary_frames_are_an_anomaly_relayed_as_binary() -> None:
    codec = RealtimeCodec(head())
    unit = codec.client_frame(b"\x00\x01", True)
    assert unit.events == [WireAnomaly("binary_frame")]
    [frame] = codec.render(unit, [])
    assert (frame.raw, frame.binary) == (b"\x00\x01", True)


def _rewrite(events: list[Event], old: str, new: str) -> list[Event]:
    return [
        dataclasses.replace(e, text=e.text.replace(old, new))
        if isinstance(e, Transcript | TextDelta | AgentText | PromptText)
        else e
        for e in events
    ]


def test_a_transcript_rewrite_changes_only_that_fields_bytes() -> None:
    codec = RealtimeCodec(head())
    raw = next(f for f in frames("realtime_ga_server.jsonl") if b"transcription.completed" in f)
    unit = codec.upstream_frame(raw, False)
    [frame] = codec.render(unit, _rewrite(unit.events, "4111 1111 1111 1111", "<CARD>"))
    assert frame.raw == raw.replace(b"4111 1111 1111 1111", b"<CARD>")
    assert raw.count(b"4111 1111 1111 1111") == 1


def test_rewrites_reach_item_echoes_and_the_response_summary() -> None:
    codec = RealtimeCodec(head())
    for raw in frames("realtime_ga_server.jsonl"):
        unit = codec.upstream_frame(raw, False)
        if b"4111" not in raw or not unit.events:
            continue
        out = _rewrite(unit.events, "4111", "####")
        rendered = b"".join(f.raw for f in codec.render(unit, out))
        assert rendered == raw.replace(b"4111", b"####"), raw[:80]


def test_held_text_leaves_an_empty_delta_and_is_released_shaped_like_its_stream() -> None:
    codec = RealtimeCodec(head())
    raw = next(f for f in frames("realtime_ga_server.jsonl") if b"output_audio_transcript.delta" in f)
    unit = codec.upstream_frame(raw, False)
    [delta] = unit.events
    assert isinstance(delta, TextDelta)
    [held] = codec.render(unit, [])
    assert orjson.loads(held.raw)["delta"] == ""
    release_unit = codec.upstream_frame(b'{"type":"response.output_audio.delta","delta":"AAAA"}', False)
    released = codec.render(release_unit, [TextDelta(delta.text, delta.stream), *release_unit.events])
    injected = orjson.loads(released[0].raw)
    original = orjson.loads(raw)
    assert injected["type"] == "response.output_audio_transcript.delta"
    assert injected["delta"] == delta.text
    assert {k: injected[k] for k in ("response_id", "item_id", "output_index", "content_index")} == {
        k: original[k] for k in ("response_id", "item_id", "output_index", "content_index")
    }
    assert released[1].raw == release_unit.raw


def test_a_held_audio_chunk_mutes_its_frame() -> None:
    codec = RealtimeCodec(head())
    unit = codec.client_frame(frames("realtime_ga_client.jsonl")[1], False)
    assert codec.render(unit, []) == []


def test_the_codec_keeps_only_a_bounded_number_of_stream_shapes() -> None:
    codec = RealtimeCodec(head())
    for index in range(500):
        frame = {"type": "response.output_text.delta", "item_id": f"item_{index}", "delta": "x"}
        codec.upstream_frame(orjson.dumps(frame), False)
    assert len(codec.state.shapes) == 64


def test_mutilated_frames_never_crash_and_go_out_as_they_came() -> None:
    rng = random.Random(3)
    recorded = frames("realtime_ga_client.jsonl")[:8] + frames("realtime_ga_server.jsonl")[::4]
    codec = RealtimeCodec(head())
    for frame in recorded:
        for _ in range(12):
            flipped = bytearray(frame)
            flipped[rng.randrange(len(frame))] = rng.randrange(256)
            for mutated in (frame[: rng.randrange(len(frame))], bytes(flipped)):
                for parse in (codec.client_frame, codec.upstream_frame):
                    unit = parse(mutated, False)
                    assert [f.raw for f in codec.render(unit, list(unit.events))] == [mutated]
                    codec.render(unit, [])
