"""Gemini Live: recorded client and server frames (both key spellings, text and binary) parse and render."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from tests.protocols.wire import events_of, head, replaced
from voiceguard.events import (
    AudioChunk,
    Direction,
    LLMRequest,
    PromptText,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    TextDelta,
    TextRole,
    ToolCall,
    Transcript,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols.gemini_live import GeminiLiveAdapter, LiveCodec

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"
CARD = "4111 1111 1111 1111"
MODEL = "models/gemini-live-2.5-flash-preview"


def frames(name: str) -> list[bytes]:
    return [line.encode() for line in (FIXTURES / name).read_text().splitlines()]


@pytest.mark.parametrize(
    "path",
    [
        "/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent",
        "//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
        "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained",
        "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent",
    ],
)
def test_every_live_endpoint_spelling_is_recognised(path: str) -> None:
    assert isinstance(GeminiLiveAdapter().websocket(head("GET", path, {"key": "k"})), LiveCodec)


def test_rest_calls_and_other_sockets_are_relayed_untouched() -> None:
    adapter = GeminiLiveAdapter()
    assert adapter.http(head("POST", "/v1beta/models/gemini-2.5-flash:generateContent")) is None
    assert adapter.websocket(head("GET", "/ws/something.Else")) is None


def test_client_frames_in_both_key_spellings_become_events() -> None:
    codec = LiveCodec()
    units = [codec.client_frame(frame, False) for frame in frames("client_frames.jsonl")]
    events = events_of(units)
    assert events[0] == LLMRequest(model=MODEL, stream=True, tool_names=("lookup_card",))
    audio = [e for e in events if isinstance(e, AudioChunk)]
    assert [(a.direction, a.n_bytes, a.seconds, a.sample_rate) for a in audio] == [
        (Direction.TO_UPSTREAM, 32_000, 1.0, 16_000)
    ] * 2
    assert SpeechStarted() in events and SpeechStopped() in events
    texts = [(e.role, e.text) for e in events if isinstance(e, PromptText)]
    assert texts == [
        (TextRole.INSTRUCTIONS, f"Agent for Ana Lopez, card {CARD}."),
        (TextRole.USER, f"My card is {CARD}"),
        (TextRole.ASSISTANT, "Noted."),
        (TextRole.TOOL, '{"holder": "Ana Lopez", "last4": "1111"}'),
    ]


def test_client_rewrites_change_only_the_rewritten_bytes_at_the_spelling_on_the_wire() -> None:
    codec = LiveCodec()
    for frame in frames("client_frames.jsonl"):
        unit = codec.client_frame(frame, False)
        if not unit.events:
            continue
        out = codec.render(unit, replaced(unit.events, "Ana Lopez", "[name]"))
        expected = frame.replace(b"Ana Lopez", b"[name]")
        assert [o.raw for o in out] == [expected]


def test_server_frames_become_transcripts_deltas_audio_tools_interruption_done_and_usage() -> None:
    codec = LiveCodec()
    codec.client_frame(frames("client_frames.jsonl")[0], False)
    units = [codec.upstream_frame(frame, True) for frame in frames("server_frames.jsonl")]
    events = events_of(units)
    transcripts = [e for e in events if isinstance(e, Transcript)]
    assert [(t.text, t.is_final) for t in transcripts] == [("my card is", False), (f" {CARD}", True)]
    assert events.count(ResponseStarted(model=MODEL)) == 1
    [audio] = [e for e in events if isinstance(e, AudioChunk)]
    assert (audio.direction, audio.n_bytes, audio.seconds, audio.sample_rate) == (
        Direction.TO_CLIENT,
        9600,
        0.2,
        24_000,
    )
    assert [(e.stream, e.text) for e in events if isinstance(e, TextDelta)] == [
        ("output_transcription", "Your card 4111"),
        ("model", " ends in 1111."),
    ]
    [call] = [e for e in events if isinstance(e, ToolCall)]
    assert (call.name, call.arguments, call.call_id) == ("lookup_card", f'{{"card":"{CARD}"}}', "fc-1")
    assert SpeechStarted() in events
    assert events.count(ResponseDone(status="cancelled")) == 1
    assert (
        Usage(
            model=MODEL,
            input_tokens=120,
            output_tokens=30,
            audio_input_tokens=100,
            audio_output_tokens=30,
            cached_input_tokens=10,
        )
        in events
    )
    assert all(not unit.events for unit in units[-2:])


def test_server_rewrites_keep_every_other_byte_and_the_binary_opcode() -> None:
    codec = LiveCodec()
    for frame in frames("server_frames.jsonl"):
        unit = codec.upstream_frame(frame, True)
        out = codec.render(unit, replaced(unit.events, "4111", "####"))
        assert [(o.raw, o.binary) for o in out] == [(frame.replace(b"4111", b"####"), True)]


def test_text_held_from_one_frame_is_released_as_server_content_before_the_next() -> None:
    codec = LiveCodec()
    server = frames("server_frames.jsonl")
    held_unit = codec.upstream_frame(server[4], False)
    assert orjson.loads(codec.render(held_unit, [])[0].raw) == {
        "serverContent": {"outputTranscription": {"text": ""}}
    }
    next_unit = codec.upstream_frame(server[5], False)
    released = TextDelta("Your card ####", "output_transcription")
    out = codec.render(next_unit, [released, *next_unit.events])
    assert [orjson.loads(o.raw) for o in out] == [
        {"serverContent": {"outputTranscription": {"text": "Your card ####"}}},
        orjson.loads(server[5]),
    ]
    assert out[1].raw == server[5]


def test_a_new_turn_starts_a_new_response_after_turn_complete() -> None:
    codec = LiveCodec()
    text = b'{"serverContent":{"modelTurn":{"parts":[{"text":"hi"}]}}}'
    done = b'{"serverContent":{"turnComplete":true}}'
    events = events_of([codec.upstream_frame(f, False) for f in (text, text, done, text)])
    assert [type(e).__name__ for e in events] == [
        "ResponseStarted",
        "TextDelta",
        "TextDelta",
        "ResponseDone",
        "ResponseStarted",
        "TextDelta",
    ]
    assert events[3] == ResponseDone(status="completed")


def test_malformed_and_unknown_server_frames_pass_untouched_and_are_counted() -> None:
    codec = LiveCodec()
    units = [codec.upstream_frame(frame, True) for frame in frames("server_malformed.jsonl")]
    events = events_of(units)
    assert [e.kind for e in events if isinstance(e, WireAnomaly)] == [
        "bad_json",
        "not_an_object",
        "invalid_base64",
    ]
    assert units[3].events == [] and units[4].events == []
    assert [type(e).__name__ for e in units[5].events] == ["ResponseStarted", "TextDelta", "ResponseDone"]
    for unit, frame in zip(units, frames("server_malformed.jsonl"), strict=True):
        assert unit.raw == frame and unit.binary


def test_a_tool_call_argument_rewrite_keeps_valid_json() -> None:
    codec = LiveCodec()
    frame = frames("server_frames.jsonl")[6]
    unit = codec.upstream_frame(frame, False)
    [call] = unit.events
    assert isinstance(call, ToolCall)
    out = codec.render(unit, [dataclasses.replace(call, arguments='{"card": "[card]"}')])
    assert orjson.loads(out[0].raw)["toolCall"]["functionCalls"][0]["args"] == {"card": "[card]"}


def test_text_released_next_to_a_broken_frame_still_reaches_the_client() -> None:
    codec = LiveCodec()
    unit = codec.upstream_frame(b'{"serverContent": ', True)
    out = codec.render(unit, [TextDelta("held text", "model"), *unit.events])
    assert [o.raw for o in out] == [
        b'{"serverContent":{"modelTurn":{"parts":[{"text":"held text"}]}}}',
        b'{"serverContent": ',
    ]
    assert all(o.binary for o in out)
