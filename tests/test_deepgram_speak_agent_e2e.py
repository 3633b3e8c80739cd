"""Deepgram speak and the Voice Agent through voiceguard with the official SDK (raw sockets for tokens)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets
from deepgram.agent.v1 import AgentV1SendFunctionCallResponse, AgentV1Settings
from deepgram.speak.v1 import SpeakV1Text

from tests.conftest import ProxyFactory
from tests.test_deepgram_sdk_dropin import deepgram_client
from tests.voice_support import RedactDigits, running_proxy
from voiceguard.events import (
    AgentText,
    AudioChunk,
    BackendLatency,
    Direction,
    PromptText,
    ResponseDone,
    ResponseStarted,
    TextRole,
    ToolCall,
    Transcript,
    TTSText,
    Usage,
)
from voiceguard.records import EventObserved, TurnFinished
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.audio import mulaw_tone
from voiceguard.simulator.backend import Backend, Reply, ToolCallSpec
from voiceguard.testing import RecordingSink

SETTINGS = json.loads((Path(__file__).parent / "fixtures" / "deepgram" / "agent_settings.json").read_text())


def observed(recording: RecordingSink) -> list[Any]:
    return [record.event for record in recording.of(EventObserved)]


@pytest.fixture
async def agent_proxy(
    make_proxy: ProxyFactory, deepgram_upstream: RunningApp, observe_disclosure: dict[str, Any]
) -> RunningServer:
    return await make_proxy(
        {"deepgram": deepgram_upstream.url, "deepgram-agent": deepgram_upstream.url}, **observe_disclosure
    )


# --- speak ------------------------------------------------------------------------------------------------


async def test_speak_rest_through_the_sdk_reports_text_audio_and_characters(
    agent_proxy: RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    async with deepgram_client(agent_proxy) as client:
        audio = b"".join(
            [
                chunk
                async for chunk in client.speak.v1.audio.generate(text="Hello Jane", model="aura-2-thalia-en")
            ]
        )
    assert audio.startswith(b"RIFF")
    assert orjson.loads(backend.received[-1].body) == {"text": "Hello Jane"}
    events = observed(recording)
    assert TTSText("Hello Jane", voice="aura-2-thalia-en", stream="speak") in events
    assert Usage(model="aura-2-thalia-en", characters=10) in events
    chunks = [e for e in events if isinstance(e, AudioChunk)]
    assert sum(c.n_bytes for c in chunks) == len(audio)
    assert abs(sum(c.seconds or 0 for c in chunks) - len(audio) / 48_000) < 1e-6
    assert events[-1] == ResponseDone()


async def test_speak_text_rewritten_by_a_guard_is_what_deepgram_speaks(
    tmp_path: Path, deepgram_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    upstreams = {"deepgram": deepgram_upstream.url}
    async with (
        running_proxy(tmp_path, upstreams, recording, [RedactDigits()]) as proxy,
        deepgram_client(proxy) as client,
    ):
        async for _chunk in client.speak.v1.audio.generate(
            text="Your code is 4242", model="aura-2-thalia-en"
        ):
            pass
        async with client.speak.v1.connect(
            model="aura-2-thalia-en", encoding="linear16", sample_rate=16000
        ) as tts:
            await tts.send_text(SpeakV1Text(type="Speak", text="Your balance is 42 dollars"))
            await tts.send_flush()
            replies: list[Any] = []
            while not replies or getattr(replies[-1], "type", None) != "Flushed":
                replies.append(await asyncio.wait_for(tts.recv(), 5))
            await tts.send_close()
    rest, live = backend.received[-2:]
    assert rest.body == b'{"text":"Your code is [NUMBER]"}'
    assert live.frames[0] == '{"type": "Speak", "text": "Your balance is [NUMBER] dollars"}'
    assert getattr(replies[0], "type", None) == "Metadata"
    audio = b"".join(r for r in replies if isinstance(r, bytes))
    assert audio
    chunks = [e for e in observed(recording) if isinstance(e, AudioChunk) and e.sample_rate == 16000]
    assert sum(c.n_bytes for c in chunks) == len(audio)


async def test_speak_socket_authenticates_by_subprotocol_token(
    proxy: RunningServer, backend: Backend
) -> None:
    url = f"ws://{proxy.host}:{proxy.port}/deepgram/v1/speak?encoding=linear16&sample_rate=8000"
    async with websockets.connect(url, subprotocols=["token", "sk-test"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "token"
        assert '"Metadata"' in await asyncio.wait_for(ws.recv(), 5)
        await ws.send('{"type": "Speak", "text": "hi"}')
        await ws.send('{"type": "Flush"}')
        frame = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(frame, bytes)
    assert "Authorization" not in backend.received[-1].headers


# --- voice agent --------------------------------------------------------------------------------------------


async def _until(agent: Any, kind: str, into: list[Any]) -> None:
    while True:
        message = await asyncio.wait_for(agent.recv(), 5)
        into.append(message)
        if getattr(message, "type", None) == kind:
            return


def lookup_then_answer(prompt: str) -> Reply:
    return Reply(
        text="Your balance is 42 dollars.", tool_calls=(ToolCallSpec("lookup_account", '{"n": "1"}'),)
    )


async def test_a_voice_agent_conversation_through_the_sdk(
    agent_proxy: RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    backend.script(["what is my balance"])
    backend.responder = lookup_then_answer
    messages: list[Any] = []
    async with deepgram_client(agent_proxy) as client, client.agent.v1.connect() as agent:
        await agent.send_settings(AgentV1Settings.model_validate(SETTINGS))
        await _until(agent, "AgentAudioDone", messages)  # the greeting
        audio = mulaw_tone(1.0)
        for offset in range(0, len(audio), 160):
            await agent.send_media(audio[offset : offset + 160])
        await _until(agent, "FunctionCallRequest", messages)
        request = messages[-1].functions[0]
        await agent.send_function_call_response(
            AgentV1SendFunctionCallResponse(
                type="FunctionCallResponse", id=request.id, name=request.name, content='{"balance": 42}'
            )
        )
        await _until(agent, "AgentAudioDone", messages)
    kinds = [getattr(m, "type", "audio") if not isinstance(m, bytes) else "audio" for m in messages]
    assert kinds[:3] == ["Welcome", "SettingsApplied", "ConversationText"]
    assert "UserStartedSpeaking" in kinds and kinds[-1] == "AgentAudioDone"

    events = observed(recording)
    assert TTSText("Hello, thanks for calling ACME.", stream="greeting") in events
    assert PromptText("You are a billing agent for ACME.", TextRole.INSTRUCTIONS) in events
    assert Transcript("what is my balance", end_of_turn=True, stream="user") in events
    assert AgentText("Your balance is 42 dollars.", stream="assistant", spoken=True) in events
    assert any(isinstance(e, ToolCall) and e.name == "lookup_account" for e in events)
    assert PromptText('{"balance": 42}', TextRole.TOOL) in events
    assert BackendLatency(total_s=0.82, llm_s=0.47, tts_s=0.21) in events
    assert ResponseStarted() in events and ResponseDone() in events
    inbound = [e for e in events if isinstance(e, AudioChunk) and e.direction is Direction.TO_UPSTREAM]
    assert abs(sum(e.seconds or 0 for e in inbound) - 1.0) < 1e-9
    turns = [record.turn for record in recording.of(TurnFinished)]
    assert any(turn.breakdown_ms()["voice_to_voice"] is not None for turn in turns)


async def test_the_agents_words_are_redacted_before_the_client_sees_them(
    tmp_path: Path, deepgram_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    backend.script(["my card is 4111"])
    upstreams = {"deepgram-agent": deepgram_upstream.url}
    messages: list[Any] = []
    async with (
        running_proxy(tmp_path, upstreams, recording, [RedactDigits()]) as proxy,
        deepgram_client(proxy) as client,
        client.agent.v1.connect() as agent,
    ):
        settings = {**SETTINGS, "agent": {**SETTINGS["agent"], "greeting": "Press 1 for sales."}}
        await agent.send_settings(AgentV1Settings.model_validate(settings))
        await _until(agent, "AgentAudioDone", messages)
        await agent.send_media(bytes(8000))
        await _until(agent, "AgentAudioDone", messages)
    texts = [(m.role, m.content) for m in messages if getattr(m, "type", None) == "ConversationText"]
    assert texts == [
        ("assistant", "Press [NUMBER] for sales."),
        ("user", "my card is [NUMBER]"),
        ("assistant", "You said: my card is [NUMBER]"),
    ]
    settings_frame = backend.received[-1].frames[0]
    assert isinstance(settings_frame, str) and "Press [NUMBER] for sales." in settings_frame


async def test_the_agent_socket_takes_a_header_or_a_subprotocol_token(
    agent_proxy: RunningServer, backend: Backend
) -> None:
    url = f"ws://{agent_proxy.host}:{agent_proxy.port}/deepgram-agent/v1/agent/converse"
    async with websockets.connect(url, subprotocols=["token", "sk-test"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "token"
        assert '"Welcome"' in await asyncio.wait_for(ws.recv(), 5)
    async with websockets.connect(url, additional_headers={"Authorization": "Token sk-test"}) as ws:
        assert '"Welcome"' in await asyncio.wait_for(ws.recv(), 5)
    assert backend.received[-1].headers["Authorization"] == "Token sk-test"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers={"Authorization": "Token nope"}):
            pass
    assert refused.value.response.status_code == 401
