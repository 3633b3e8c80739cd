"""Exchanges with Anthropic, ElevenLabs and Gemini Live join their call and are cut into turns."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import httpx
import pytest
from elevenlabs import AsyncElevenLabs
from google import genai
from google.genai import types

from tests.conftest import ProxyFactory
from tests.tls import self_signed, trusting
from voiceguard.records import TurnFinished
from voiceguard.simulator import start_app
from voiceguard.simulator.anthropic_api import anthropic_app
from voiceguard.simulator.audio import tone_pcm16
from voiceguard.simulator.backend import Backend
from voiceguard.simulator.elevenlabs_api import elevenlabs_app
from voiceguard.simulator.gemini_live import gemini_app
from voiceguard.testing import RecordingSink


@pytest.fixture
async def upstreams(backend: Backend) -> AsyncIterator[dict[str, str]]:
    apps = [
        await start_app(anthropic_app(backend)),
        await start_app(elevenlabs_app(backend)),
        await start_app(gemini_app(backend)),
    ]
    yield {"anthropic": apps[0].url, "elevenlabs": apps[1].url, "gemini": apps[2].url}
    for app in apps:
        await app.close()


async def test_claude_then_elevenlabs_in_one_call_make_one_turn_with_both_stages(
    make_proxy: ProxyFactory, upstreams: dict[str, str], recording: RecordingSink
) -> None:
    proxy = await make_proxy(upstreams)
    call = {"X-VoiceGuard-Call-Id": "call-cascade-1"}
    async with (
        anthropic.AsyncAnthropic(
            api_key="sk-test", base_url=f"{proxy.url}/anthropic", max_retries=0, default_headers=call
        ) as llm,
        llm.messages.stream(
            model="claude-sonnet-5-5", max_tokens=64, messages=[{"role": "user", "content": "hello"}]
        ) as stream,
    ):
        reply = "".join([piece async for piece in stream.text_stream])
    async with httpx.AsyncClient(headers=call) as http:
        tts = AsyncElevenLabs(api_key="sk-test", base_url=f"{proxy.url}/elevenlabs", httpx_client=http)
        audio = b"".join(
            [c async for c in tts.text_to_speech.stream("voice1", text=reply, output_format="pcm_16000")]
        )
    await proxy.close()
    [finished] = recording.of(TurnFinished)
    turn = finished.turn
    assert finished.call.id == "call-cascade-1" and len(audio) > 0
    breakdown = turn.breakdown_ms()
    assert breakdown["llm_time_to_first_token"] is not None
    assert breakdown["tts_time_to_first_byte"] is not None
    assert turn.models["llm"] == "claude-sonnet-5-5"
    assert turn.tts_characters == len(reply)
    assert turn.input_tokens == 25 and turn.audio_out_s == pytest.approx(len(reply) * 0.06, abs=0.01)


async def test_a_live_session_is_a_call_of_its_own_with_a_turn_per_reply(
    tmp_path: Path,
    make_proxy: ProxyFactory,
    upstreams: dict[str, str],
    backend: Backend,
    recording: RecordingSink,
) -> None:
    backend.script(["first question", "second question"])
    cert, key = self_signed(tmp_path / "tls")
    proxy = await make_proxy(upstreams, tls={"cert": str(cert), "key": str(key)})
    client = genai.Client(
        api_key="sk-test",
        http_options=types.HttpOptions(
            base_url=f"{proxy.url}/gemini", async_client_args={"ssl": trusting(cert)}
        ),
    )
    sent = tone_pcm16(0.3, 16_000)
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    async with (
        asyncio.timeout(15),
        client.aio.live.connect(model="gemini-live-2.5-flash-preview", config=config) as session,
    ):
        for _ in range(2):
            await session.send_realtime_input(audio=types.Blob(data=sent, mime_type="audio/pcm;rate=16000"))
            await session.send_realtime_input(audio_stream_end=True)
            async for message in session.receive():
                if message.server_content and message.server_content.turn_complete:
                    break
    await proxy.close()
    turns = [record.turn for record in recording.of(TurnFinished)]
    assert len(turns) == 2
    for turn in turns:
        assert turn.response_started_ns is not None and turn.response_done_ns is not None
        assert turn.audio_out_s > 0 and turn.input_tokens == 40
        assert turn.models["realtime"] == "models/gemini-live-2.5-flash-preview"
    # No VAD events under automatic activity detection: the caller's next audio counts toward the turn
    # that is open until the next reply starts (see README, Gemini Live).
    assert sum(turn.audio_in_s for turn in turns) == pytest.approx(0.6)
    audio_text = base64.b64encode(sent).decode()[:64]
    assert audio_text not in repr(recording.records)
    assert base64.urlsafe_b64encode(sent).decode()[:64] not in repr(recording.records)
