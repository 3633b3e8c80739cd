"""Speaker-change detection in the running proxy: a second voice on a live call voids the subject's
voiceprint consent (Deepgram live stream through the deepgram-sdk), and a Twilio media stream's µ-law is
heard. The speaker model is the checkpoint this test session created (random weights: mechanics only)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.biometrics.synthetic_voices import alice, bob, mulaw_8k
from tests.biometrics.test_speaker_detector import FRAME, THRESHOLD
from tests.conftest import ProxyFactory
from tests.consent.test_registry import eventually
from tests.test_deepgram_sdk_dropin import deepgram_client
from voiceguard.biometrics.call_state import CALL_SPEAKERS, CallSpeakers
from voiceguard.config import ConfigError
from voiceguard.records import DecisionMade
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp, start_app
from voiceguard.simulator.backend import Backend
from voiceguard.testing import RecordingSink

TOKEN = "admin-" + os.urandom(8).hex()
DISCLOSURE = "Hi, you're speaking with an AI assistant."
CALLER = "+13125550111"
RELEASE = {
    "subject": CALLER,
    "purpose": "voiceprint",
    "jurisdiction": "US-IL",
    "notice_version": "bipa-notice-2026-01",
    "signature": "written",
    "evidence_ref": "scan:release-0077",
}


def speaker_settings(checkpoint: Path, **more: Any) -> dict[str, Any]:
    """Speaker-change detection on, and the retention schedule BIPA 15(a) asks for published."""
    published = {
        "retention_schedule_url": "https://example.com/retention",
        "retention_schedule_sha256": "e" * 64,
    }
    return {"speaker_model": str(checkpoint), "speaker_threshold": THRESHOLD, **published, **more}


def speakers_of(proxy: RunningServer, call_id: str) -> CallSpeakers:
    call = proxy.runtime.pipeline.calls.get(call_id)
    assert call is not None
    return call.scratch(CALL_SPEAKERS, CallSpeakers)


async def until(check: Callable[[], bool], proxy: RunningServer, seconds: float = 60) -> None:
    """Wait for the detector to reach a state (it runs beside the relay, never in its way)."""
    await eventually(check, within=seconds)
    detector = proxy.runtime.speakers
    assert detector is not None
    await detector.idle()


async def test_a_second_voice_on_a_consented_live_call_strips_speaker_labels_from_then_on(
    make_proxy: ProxyFactory,
    deepgram_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    speaker_checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOICEGUARD_ADMIN_TOKEN", TOKEN)
    proxy = await make_proxy(
        {"deepgram": deepgram_upstream.url}, biometrics=speaker_settings(speaker_checkpoint)
    )
    async with aiohttp.ClientSession() as http:
        granted = await http.post(
            f"{proxy.url}/_voiceguard/consent", json=RELEASE, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert granted.status == 201
    finals: list[Any] = []
    query = {"vg_subject": CALLER, "vg_jurisdiction": "US-IL", "vg_call_id": "two-voices"}

    async def collect(socket: Any) -> None:
        async for message in socket:
            if getattr(message, "type", None) == "Results" and message.is_final:
                finals.append(message)

    async def say(socket: Any, audio: bytes) -> Any:
        """Send audio; return the last final result it produced."""
        before = len(finals)
        for offset in range(0, len(audio), FRAME):
            await socket.send_media(audio[offset : offset + FRAME])
        await eventually(lambda: len(finals) > before)
        return finals[-1]

    async with deepgram_client(proxy) as client, client.listen.v1.connect(
        model="nova-3", encoding="mulaw", sample_rate="8000", diarize="true",
        request_options={"additional_query_parameters": query},
    ) as socket:  # fmt: skip
        reader = asyncio.create_task(collect(socket))
        await say(socket, mulaw_8k(alice(8)))
        await until(lambda: speakers_of(proxy, "two-voices").voices == 1, proxy)
        subject_only = await say(socket, mulaw_8k(alice(1.2, seed=3)))
        await say(socket, mulaw_8k(bob(8)))
        await until(lambda: speakers_of(proxy, "two-voices").voices == 2, proxy)
        after_join = await say(socket, mulaw_8k(bob(1.2, seed=4)))
        await socket.send_close_stream()
        await asyncio.wait_for(reader, 10)

    assert {w.speaker for w in subject_only.channel.alternatives[0].words} == {0}
    assert {w.speaker for w in after_join.channel.alternatives[0].words} == {None}
    assert ("diarize", "true") in backend.received[-1].query  # opened with consent; labels go from the join
    stripped = [r.decision for r in recording.of(DecisionMade) if r.decision.action == "strip"]
    assert [d.outcome for d in stripped] == ["speaker_without_consent"]
    assert speakers_of(proxy, "two-voices").changes == 1


@pytest.fixture
async def agent() -> AsyncIterator[tuple[RunningApp, list[str]]]:
    """The operator's own media-stream server behind voiceguard: it records what reaches it."""
    received: list[str] = []

    async def stream(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            received.append(message.data)
        return socket

    app = web.Application()
    app.router.add_get("/{tail:.*}", stream)
    running = await start_app(app)
    yield running, received
    await running.close()


def twilio_messages(audio: bytes, stream_sid: str, call_sid: str = "CA" + "0" * 32) -> list[dict[str, Any]]:
    media = [
        {
            "event": "media",
            "streamSid": stream_sid,
            "media": {"track": "inbound", "payload": base64.b64encode(audio[i : i + FRAME]).decode()},
        }
        for i in range(0, len(audio), FRAME)
    ]
    start = {
        "event": "start",
        "streamSid": stream_sid,
        "start": {
            "callSid": call_sid,
            "customParameters": {"from": CALLER},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }
    return [{"event": "connected", "protocol": "Call"}, start, *media]


async def test_a_twilio_media_streams_mulaw_is_heard_and_a_second_voice_counted(
    make_proxy: ProxyFactory, agent: tuple[RunningApp, list[str]], speaker_checkpoint: Path
) -> None:
    upstream, received = agent
    proxy = await make_proxy(
        {},
        routes={"phone": {"upstream": upstream.url, "protocol": "twilio"}},
        biometrics=speaker_settings(speaker_checkpoint, treat_unknown_jurisdiction_as="US-IL"),
    )
    audio = mulaw_8k(alice(7)) + mulaw_8k(bob(7))
    messages = twilio_messages(audio, "MZ" + "1" * 32)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://{proxy.host}:{proxy.port}/phone/media?vg_call_id=phone-1") as socket,
    ):
        for message in messages:
            await socket.send_json(message)
        await until(lambda: speakers_of(proxy, "phone-1").voices == 2, proxy)
        speakers = speakers_of(proxy, "phone-1")
        assert (speakers.changes, speakers.unverified) == (1, False)
        await socket.send_json({"event": "stop", "streamSid": "MZ" + "1" * 32})
    await eventually(lambda: len(received) == len(messages) + 1)
    assert [json.loads(text) for text in received[: len(messages)]] == messages  # the audio path is untouched


async def test_a_voice_joining_a_phone_call_hears_the_disclosure_on_the_agents_next_reply(
    make_proxy: ProxyFactory,
    agent: tuple[RunningApp, list[str]],
    openai_upstream: RunningApp,
    speaker_checkpoint: Path,
) -> None:
    """Twilio carries the caller's voice; the agent's LLM requests join the call by its call SID."""
    upstream, _received = agent
    proxy = await make_proxy(
        {"openai": openai_upstream.url},
        routes={"phone": {"upstream": upstream.url, "protocol": "twilio"}},
        biometrics=speaker_settings(speaker_checkpoint),
    )
    call_sid, stream_sid = "CA" + "7" * 32, "MZ" + "7" * 32
    connected, start, *alice_media = twilio_messages(mulaw_8k(alice(7)), stream_sid, call_sid)
    bob_media = twilio_messages(mulaw_8k(bob(7)), stream_sid, call_sid)[2:]

    async def agent_says(client: openai.AsyncOpenAI) -> str:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            extra_headers={"X-VoiceGuard-Call-Id": call_sid},
        )
        return completion.choices[0].message.content or ""

    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://{proxy.host}:{proxy.port}/phone/media") as socket,
        openai.AsyncOpenAI(api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0) as llm,
    ):
        for message in (connected, start, *alice_media):
            await socket.send_json(message)
        await eventually(lambda: proxy.runtime.pipeline.calls.get(call_sid) is not None)  # named by the SID
        await until(lambda: speakers_of(proxy, call_sid).voices == 1, proxy)
        first, second = await agent_says(llm), await agent_says(llm)
        for message in bob_media:
            await socket.send_json(message)
        await until(lambda: speakers_of(proxy, call_sid).voices == 2, proxy)
        after_join = await agent_says(llm)
        await socket.send_json({"event": "stop", "streamSid": stream_sid})
    assert first.startswith(DISCLOSURE) and not second.startswith(DISCLOSURE)
    assert after_join == f"{DISCLOSURE} You said: hello"


async def test_a_speaker_model_that_cannot_load_stops_start_up_with_the_reason(
    make_proxy: ProxyFactory, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="no speaker model checkpoint at"):
        await make_proxy({}, biometrics={"speaker_model": str(tmp_path / "missing-model")})
