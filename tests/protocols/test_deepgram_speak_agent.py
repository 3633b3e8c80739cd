"""Deepgram speak and Voice Agent: recorded messages parse into events and render back byte-faithfully."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from voiceguard.events import (
    AgentText,
    AudioChunk,
    BackendLatency,
    Direction,
    Event,
    LLMRequest,
    PlaybackTruncated,
    PromptText,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    TextRole,
    ToolCall,
    Transcript,
    TTSText,
    UpstreamError,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols.base import RequestHead
from voiceguard.protocols.deepgram_agent import AgentSocketCodec
from voiceguard.protocols.deepgram_speak import SpeakRestCodec, SpeakSocketCodec

FIXTURES = Path(__file__).parent.parent / "fixtures" / "deepgram"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def head(path: str, query: str = "", method: str = "GET") -> RequestHead:
    params = MultiDict(pair.split("=", 1) for pair in query.split("&") if pair)
    return RequestHead(method, path, MultiDictProxy(params), CIMultiDictProxy(CIMultiDict()))


def agent_with_settings() -> AgentSocketCodec:
    codec = AgentSocketCodec()
    codec.client_frame(fixture("agent_settings.json"), False)
    return codec


# --- speak ------------------------------------------------------------------------------------------------


def test_speak_request_text_is_tts_text_and_a_rewrite_changes_only_it() -> None:
    raw = fixture("speak_request.json")
    codec = SpeakRestCodec()
    (text,) = codec.request_events(head("/v1/speak", "model=aura-2-thalia-en", "POST"), raw)
    assert isinstance(text, TTSText) and text.voice == "aura-2-thalia-en"
    edit = codec.render_request([dataclasses.replace(text, text="Your balance is [AMOUNT]. Anything else?")])
    assert edit.body == raw.replace(b"42 dollars", b"[AMOUNT]")


def test_text_a_guard_adds_to_a_speak_request_is_spoken_in_order() -> None:
    raw = fixture("speak_request.json")
    codec = SpeakRestCodec()
    events = codec.request_events(head("/v1/speak", "", "POST"), raw)
    edit = codec.render_request([TTSText("This call uses an AI agent."), *events])
    assert edit.body is not None
    assert (
        orjson.loads(edit.body)["text"]
        == "This call uses an AI agent. Your balance is 42 dollars. Anything else?"
    )


def test_speak_audio_is_counted_at_the_default_format_and_passed_as_it_came() -> None:
    codec = SpeakRestCodec()
    codec.request_events(head("/v1/speak", "model=aura-2-thalia-en", "POST"), fixture("speak_request.json"))
    body = codec.response_codec(200, {"Content-Type": "audio/wav", "dg-char-count": "42"})
    assert body is not None
    audio = bytes(48_000)
    (unit,) = body.feed(audio)
    assert unit.events == [
        Usage(model="aura-2-thalia-en", characters=42),
        AudioChunk(Direction.TO_CLIENT, 48_000, 1.0, "linear16", 24_000),
    ]
    assert body.render(unit, []) is audio
    assert body.end()[0].events == [ResponseDone()]
    assert codec.response_codec(400, {"Content-Type": "application/json"}) is None


def test_compressed_speech_without_a_bit_rate_has_no_guessed_duration() -> None:
    codec = SpeakRestCodec()
    codec.request_events(head("/v1/speak", "encoding=mp3", "POST"), fixture("speak_request.json"))
    body = codec.response_codec(200, {"Content-Type": "audio/mpeg"})
    assert body is not None
    assert body.feed(b"\xff\xfb" * 10)[0].events == [AudioChunk(Direction.TO_CLIENT, 20, None, "mp3", None)]


def test_speak_socket_messages_become_events() -> None:
    codec = SpeakSocketCodec()
    codec.handshake_events(head("/v1/speak", "model=aura-2-thalia-en&encoding=mulaw&sample_rate=8000"))
    (speak,) = codec.client_frame(b'{"type": "Speak", "text": "Hi Jane"}', False).events
    assert speak == TTSText("Hi Jane", voice="aura-2-thalia-en", stream="speak")
    assert codec.client_frame(b'{"type": "Clear"}', False).events == [PlaybackTruncated()]
    assert codec.client_frame(b'{"type": "Flush"}', False).events == []
    assert codec.upstream_frame(fixture("speak_flushed.json"), False).events == [
        ResponseDone(response_id="0")
    ]
    assert codec.upstream_frame(fixture("speak_warning.json"), False).events == [
        UpstreamError(code="TEXT_LIMIT", message="Text exceeded the character limit.", error_type="Warning")
    ]
    assert codec.upstream_frame(bytes(800), True).events == [
        AudioChunk(Direction.TO_CLIENT, 800, 0.1, "mulaw", 8000)
    ]


def test_speak_socket_rewrites_and_injects_speak_messages() -> None:
    codec = SpeakSocketCodec()
    raw = b'{"type": "Speak", "text": "Your card 4111 is on file"}'
    unit = codec.client_frame(raw, False)
    (speak,) = unit.events
    changed = dataclasses.replace(speak, text="Your card [CARD] is on file")
    frames = codec.render(unit, [TTSText("I am an AI assistant."), changed])
    assert [f.raw for f in frames] == [
        b'{"type":"Speak","text":"I am an AI assistant."}',
        raw.replace(b"4111", b"[CARD]"),
    ]


# --- voice agent ------------------------------------------------------------------------------------------


def test_settings_yield_instructions_greeting_history_and_audio_formats() -> None:
    codec = AgentSocketCodec()
    events = codec.client_frame(fixture("agent_settings.json"), False).events
    assert events[0] == LLMRequest(model="gpt-4o-mini", stream=True, tool_names=("lookup_account",))
    texts = [(type(e).__name__, getattr(e, "role", None), e.text) for e in events if hasattr(e, "text")]
    assert texts == [
        ("PromptText", TextRole.INSTRUCTIONS, "You are a billing agent for ACME."),
        ("TTSText", None, "Hello, thanks for calling ACME."),
        ("PromptText", TextRole.USER, "My name is Jane Roe."),
        ("PromptText", TextRole.ASSISTANT, '{"number": "4111"}'),
        ("PromptText", TextRole.TOOL, '{"owner": "Jane Roe"}'),
    ]
    assert codec.client_frame(bytes(8000), True).events == [
        AudioChunk(Direction.TO_UPSTREAM, 8000, 1.0, "mulaw", 8000)
    ]
    assert codec.upstream_frame(bytes(32_000), True).events == [
        AudioChunk(Direction.TO_CLIENT, 32_000, 1.0, "linear16", 16_000)
    ]


def test_a_greeting_rewrite_changes_only_the_greeting() -> None:
    raw = fixture("agent_settings.json")
    codec = AgentSocketCodec()
    unit = codec.client_frame(raw, False)
    out = [
        dataclasses.replace(e, text="Hello, I am ACME's AI assistant.") if isinstance(e, TTSText) else e
        for e in unit.events
    ]
    (frame,) = codec.render(unit, out)
    assert frame.raw == raw.replace(b"Hello, thanks for calling ACME.", b"Hello, I am ACME's AI assistant.")


def test_conversation_turns_map_to_the_shared_vocabulary() -> None:
    codec = agent_with_settings()

    def events(name: str) -> list[Event]:
        return codec.upstream_frame(fixture(name), False).events

    (user,) = events("agent_conversation_user.json")
    assert isinstance(user, Transcript) and user.is_final and user.end_of_turn and user.stream == "user"
    (agent,) = events("agent_conversation_assistant.json")
    assert isinstance(agent, AgentText) and agent.spoken and agent.text == "Thanks, Jane. Let me check."
    assert codec.upstream_frame(b'{"type": "UserStartedSpeaking"}', False).events == [SpeechStarted()]
    assert events("agent_started_speaking.json") == [
        ResponseStarted(),
        BackendLatency(total_s=0.82, llm_s=0.47, tts_s=0.21),
    ]
    assert events("agent_latency_report.json") == [
        BackendLatency(total_s=0.9, stt_s=0.12, llm_s=0.3, tts_s=0.2)
    ]
    assert codec.upstream_frame(b'{"type": "AgentAudioDone"}', False).events == [ResponseDone()]
    assert events("agent_error.json") == [
        UpstreamError(code="THINK_PROVIDER_ERROR", message="Think provider unavailable.", error_type="Error")
    ]
    (history,) = events("agent_history.json")
    assert history == PromptText("Your balance is 42 dollars.", TextRole.ASSISTANT)


def test_function_calls_and_their_results_are_tool_text() -> None:
    codec = agent_with_settings()
    raw = fixture("agent_function_call_request.json")
    unit = codec.upstream_frame(raw, False)
    (call,) = unit.events
    assert isinstance(call, ToolCall)
    assert (call.name, call.call_id, call.arguments) == (
        "lookup_account",
        "fc_2",
        '{"number": "4111 1111 1111 1111"}',
    )
    (frame,) = codec.render(unit, [dataclasses.replace(call, arguments='{"number": "<CARD_1>"}')])
    assert frame.raw == raw.replace(b'\\"4111 1111 1111 1111\\"', b'\\"<CARD_1>\\"')
    (result,) = codec.client_frame(fixture("agent_function_call_response.json"), False).events
    assert isinstance(result, PromptText) and result.role is TextRole.TOOL


def test_client_injections_and_prompt_updates_are_text_for_guards() -> None:
    codec = agent_with_settings()
    assert codec.client_frame(b'{"type": "InjectUserMessage", "content": "hi"}', False).events == [
        PromptText("hi", TextRole.USER)
    ]
    assert codec.client_frame(b'{"type": "InjectAgentMessage", "message": "One moment"}', False).events == [
        TTSText("One moment", stream="inject")
    ]
    assert codec.client_frame(b'{"type": "UpdatePrompt", "prompt": "Be brief"}', False).events == [
        PromptText("Be brief", TextRole.INSTRUCTIONS)
    ]
    assert codec.client_frame(b'{"type": "KeepAlive"}', False).events == []


def test_words_a_guard_adds_toward_the_agent_are_spoken_by_inject_agent_message() -> None:
    codec = agent_with_settings()
    unit = codec.client_frame(b'{"type": "KeepAlive"}', False)
    frames = codec.render(unit, [TTSText("This call is handled by an AI.")])
    assert [f.raw for f in frames] == [
        b'{"type":"InjectAgentMessage","message":"This call is handled by an AI."}',
        b'{"type": "KeepAlive"}',
    ]
    upstream = codec.upstream_frame(b'{"type": "SettingsApplied"}', False)
    assert [f.raw for f in codec.render(upstream, [AgentText("not expressible")])] == [
        b'{"type": "SettingsApplied"}'
    ]


def test_malformed_agent_messages_never_crash_and_pass_untouched() -> None:
    for line in fixture("malformed_agent.jsonl").splitlines():
        for direction in ("client", "upstream"):
            codec = AgentSocketCodec()
            unit = (
                codec.client_frame(line, False)
                if direction == "client"
                else codec.upstream_frame(line, False)
            )
            assert [f.raw for f in codec.render(unit, unit.events)] == [line]
            if not line.endswith(b"}"):
                assert unit.events == [WireAnomaly("malformed_json")]
