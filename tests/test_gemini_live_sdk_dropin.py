"""The official google-genai SDK's Live API works unchanged through voiceguard over WSS (as it insists)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import types

from tests.conftest import ProxyFactory
from tests.engines import shared_engine
from tests.tls import self_signed, trusting
from voiceguard import server
from voiceguard.events import (
    AudioChunk,
    Direction,
    LLMRequest,
    PromptText,
    ResponseDone,
    ResponseStarted,
    TextDelta,
    TextRole,
    ToolCall,
    Transcript,
    Usage,
)
from voiceguard.records import ExchangeFinished
from voiceguard.simulator import RunningApp
from voiceguard.simulator.audio import tone_pcm16
from voiceguard.simulator.backend import Backend, Reply, ToolCallSpec
from voiceguard.telemetry.logging import configure_logging
from voiceguard.testing import RecordingSink

MODEL = "gemini-live-2.5-flash-preview"


@pytest.fixture
async def tls_proxy(
    tmp_path: Path, make_proxy: ProxyFactory, gemini_upstream: RunningApp, observe_disclosure: dict[str, Any]
) -> tuple[server.RunningServer, Path]:
    cert, key = self_signed(tmp_path / "tls")
    proxy = await make_proxy(
        {"gemini": gemini_upstream.url}, tls={"cert": str(cert), "key": str(key)}, **observe_disclosure
    )
    return proxy, cert


def client_for(proxy: server.RunningServer, cert: Path, base_suffix: str = "") -> genai.Client:
    options = types.HttpOptions(
        base_url=f"{proxy.url}/gemini{base_suffix}", async_client_args={"ssl": trusting(cert)}
    )
    return genai.Client(api_key="sk-test", http_options=options)


async def _collect_turn(session: Any) -> list[Any]:
    messages = []
    async for message in session.receive():
        messages.append(message)
        if message.server_content and message.server_content.turn_complete:
            break
    return messages


@pytest.mark.parametrize("base_suffix", ["", "/"])
async def test_a_spoken_turn_round_trips_over_wss_and_becomes_events(
    base_suffix: str,
    tls_proxy: tuple[server.RunningServer, Path],
    backend: Backend,
    recording: RecordingSink,
) -> None:
    """With a trailing slash the SDK asks for ``//ws/...``; the proxy and adapter take it as it is."""
    proxy, cert = tls_proxy
    backend.script(["what is my balance"])
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        system_instruction="You are a bank's voice agent.",
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    audio = tone_pcm16(0.5, 16_000)
    async with (
        asyncio.timeout(15),
        client_for(proxy, cert, base_suffix).aio.live.connect(model=MODEL, config=config) as session,
    ):
        await session.send_realtime_input(audio=types.Blob(data=audio, mime_type="audio/pcm;rate=16000"))
        await session.send_realtime_input(audio_stream_end=True)
        messages = await _collect_turn(session)
    received = backend.received[-1]
    assert received.path.endswith("GenerativeService.BidiGenerateContent")
    assert received.headers["x-goog-api-key"] == "sk-test"
    [finished] = recording.of(ExchangeFinished)
    assert finished.exchange.path.startswith(f"{base_suffix}/ws/google.ai.generativelanguage.")
    spoken = b"".join(m.data for m in messages if m.data)
    assert len(spoken) > 0
    heard = "".join(
        m.server_content.input_transcription.text
        for m in messages
        if m.server_content and m.server_content.input_transcription
    )
    assert heard == "what is my balance"

    assert recording.events(LLMRequest)[0].model == f"models/{MODEL}"
    assert [(e.role, e.text) for e in recording.events(PromptText)] == [
        (TextRole.INSTRUCTIONS, "You are a bank's voice agent.")
    ]
    inbound = [e for e in recording.events(AudioChunk) if e.direction is Direction.TO_UPSTREAM]
    assert [(e.n_bytes, e.seconds, e.sample_rate) for e in inbound] == [(len(audio), 0.5, 16_000)]
    outbound = [e for e in recording.events(AudioChunk) if e.direction is Direction.TO_CLIENT]
    assert sum(e.n_bytes for e in outbound) == len(spoken) and outbound[0].sample_rate == 24_000
    transcripts = recording.events(Transcript)
    assert "".join(t.text for t in transcripts) == "what is my balance" and transcripts[-1].is_final
    assert "".join(e.text for e in recording.events(TextDelta)) == "You said: what is my balance"
    assert recording.events(ResponseStarted) == [ResponseStarted(model=f"models/{MODEL}")]
    assert recording.events(ResponseDone) == [ResponseDone(status="completed")]
    [usage] = recording.events(Usage)
    assert (usage.input_tokens, usage.audio_input_tokens, usage.audio_output_tokens) == (40, 40, 6)


async def test_tool_calls_and_responses_are_observed_and_arrive_intact(
    tls_proxy: tuple[server.RunningServer, Path], backend: Backend, recording: RecordingSink
) -> None:
    proxy, cert = tls_proxy
    backend.responder = lambda _heard: Reply(
        tool_calls=(ToolCallSpec("lookup_order", '{"order": "A-1234"}'),)
    )
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="lookup_order")])],
    )
    async with (
        asyncio.timeout(15),
        client_for(proxy, cert).aio.live.connect(model=MODEL, config=config) as session,
    ):
        await session.send_realtime_input(text="where is my order")
        async for message in session.receive():
            if message.tool_call:
                break
        [call] = message.tool_call.function_calls
        assert (call.name, call.args) == ("lookup_order", {"order": "A-1234"})
        await session.send_tool_response(
            function_responses=[
                types.FunctionResponse(id=call.id, name=call.name, response={"status": "shipped"})
            ]
        )
        messages = await _collect_turn(session)
    text = "".join(
        part.text
        for m in messages
        if m.server_content and m.server_content.model_turn
        for part in m.server_content.model_turn.parts or []
        if part.text
    )
    assert text == "Done, the tool answered."
    assert recording.events(LLMRequest)[0].tool_names == ("lookup_order",)
    [tool_call] = recording.events(ToolCall)
    assert (tool_call.name, json.loads(tool_call.arguments), tool_call.call_id) == (
        "lookup_order",
        {"order": "A-1234"},
        call.id,
    )
    texts = [(e.role, e.text) for e in recording.events(PromptText)]
    assert texts[0] == (TextRole.USER, "where is my order")
    assert texts[1][0] is TextRole.TOOL and json.loads(texts[1][1]) == {"status": "shipped"}


async def test_an_api_key_in_the_url_is_forwarded_and_never_logged_or_recorded(
    tmp_path: Path, gemini_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    import websockets

    from voiceguard.testing import settings_for

    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    settings = settings_for({"gemini": gemini_upstream.url}, tmp_path / "data")
    proxy = await server.start(settings, extra_sinks=[recording], pii_engine=shared_engine(settings))
    url = (
        f"ws://{proxy.host}:{proxy.port}/gemini/ws/"
        "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=sk-test"
    )
    try:
        async with asyncio.timeout(10), websockets.connect(url) as ws:
            await ws.send(json.dumps({"setup": {"model": f"models/{MODEL}"}}))
            assert json.loads(await ws.recv()) == {"setupComplete": {}}
            await ws.send(
                json.dumps(
                    {
                        "clientContent": {
                            "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                            "turnComplete": True,
                        }
                    }
                )
            )
            while "turnComplete" not in json.dumps(json.loads(await ws.recv())):
                pass
    finally:
        await proxy.close()
        configure_logging("info", "json")
    assert backend.received[-1].query == [("key", "sk-test")]
    assert "sk-test" not in stream.getvalue()
    assert "sk-test" not in repr(recording.records)
    [finished] = recording.of(ExchangeFinished)
    assert finished.exchange.info.operation == "live" and "key=" not in finished.exchange.path
