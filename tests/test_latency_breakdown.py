"""The per-turn latency breakdown matches delays injected into simulated upstreams.

Each stage runs on its own simulated backend with its own delay, chosen far enough apart that a breakdown
measuring the wrong interval (or the wrong stage) lands outside the window. The window's upper slack allows
for a loaded machine; its lower bound is strict, since no measurement can be shorter than the delay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import openai
import pytest

from tests.conftest import ProxyFactory
from voiceguard.records import TurnFinished
from voiceguard.simulator import RunningApp, start_app
from voiceguard.simulator.audio import tone_pcm16, wav
from voiceguard.simulator.backend import Backend, Timings
from voiceguard.simulator.openai_api import openai_app
from voiceguard.testing import RecordingSink

STT_S = 0.400
LLM_FIRST_BYTE_S, LLM_FIRST_TOKEN_S = 0.050, 0.100
TTS_FIRST_BYTE_S, TTS_FIRST_AUDIO_S = 0.020, 0.040
AGENT_THINKS_S = 0.250
"""The agent's own pause between the final transcript and its LLM request."""
LOWER_SLACK_MS = 1.0
UPPER_SLACK_MS = 60.0
"""A loaded machine wakes sleepers late; the stage delays are more than this apart, so a swap still fails."""


@pytest.fixture
async def stage_upstreams() -> AsyncIterator[dict[str, RunningApp]]:
    timings = {
        "stt": Timings(first_byte=STT_S),
        "llm": Timings(first_byte=LLM_FIRST_BYTE_S, first_token=LLM_FIRST_TOKEN_S),
        "tts": Timings(first_byte=TTS_FIRST_BYTE_S, first_token=TTS_FIRST_AUDIO_S),
    }
    apps = {name: await start_app(openai_app(Backend(timings=timing))) for name, timing in timings.items()}
    yield apps
    for app in apps.values():
        await app.close()


def within(measured_ms: float | None, injected_s: float) -> bool:
    injected_ms = injected_s * 1000
    return (
        measured_ms is not None
        and injected_ms - LOWER_SLACK_MS <= measured_ms <= injected_ms + UPPER_SLACK_MS
    )


async def test_breakdown_matches_the_injected_stage_delays(
    make_proxy: ProxyFactory, stage_upstreams: dict[str, RunningApp], recording: RecordingSink
) -> None:
    routes = {name: {"upstream": app.url, "protocol": "openai"} for name, app in stage_upstreams.items()}
    proxy = await make_proxy({}, routes=routes)

    def client(route: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key="sk-test",
            base_url=f"{proxy.url}/{route}/v1",
            max_retries=0,
            default_headers={"X-VoiceGuard-Call-Id": "call-timed"},
        )

    async with client("stt") as stt, client("llm") as llm, client("tts") as tts:
        # The SDK's first request on a client pays one-off set-up (connection, platform headers); a real agent
        # pays that once per process, so it is kept out of the timed call.
        warm_up = {"X-VoiceGuard-Call-Id": "call-warm-up"}
        await stt.audio.transcriptions.create(
            model="whisper-1", file=("w.wav", wav(tone_pcm16(0.1)), "audio/wav"), extra_headers=warm_up
        )
        await llm.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers=warm_up
        )
        await tts.audio.speech.create(model="tts-1", voice="alloy", input="hi", extra_headers=warm_up)

        heard = await stt.audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=("caller.wav", wav(tone_pcm16(0.5)), "audio/wav")
        )
        await asyncio.sleep(AGENT_THINKS_S)
        stream = await llm.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": heard.text}], stream=True
        )
        reply = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        async with tts.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="alloy", input=reply, response_format="pcm"
        ) as speech:
            await speech.read()
    await proxy.close()

    [finished] = [t for t in recording.of(TurnFinished) if t.call.id == "call-timed"]
    breakdown = finished.turn.breakdown_ms()
    assert within(breakdown["stt_finalization"], STT_S), breakdown
    assert within(breakdown["gap_transcript_to_llm"], AGENT_THINKS_S), breakdown
    assert within(breakdown["llm_time_to_first_token"], LLM_FIRST_BYTE_S + LLM_FIRST_TOKEN_S), breakdown
    assert within(breakdown["tts_time_to_first_byte"], TTS_FIRST_BYTE_S + TTS_FIRST_AUDIO_S), breakdown
    stages = ("stt_finalization", "gap_transcript_to_llm", "llm_time_to_first_token", "gap_llm_to_tts")
    parts = sum(breakdown[key] or 0.0 for key in (*stages, "tts_time_to_first_byte"))
    assert breakdown["voice_to_voice"] == pytest.approx(parts, abs=0.001)
    assert breakdown["gap_llm_to_tts"] is not None and breakdown["gap_llm_to_tts"] >= 0
    assert breakdown["proxy_overhead"] is not None and 0 < breakdown["proxy_overhead"] < UPPER_SLACK_MS
    assert breakdown["realtime_time_to_first_audio"] is None
