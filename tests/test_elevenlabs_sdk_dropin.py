"""The official elevenlabs SDK works unchanged through voiceguard: REST over HTTP, realtime over WSS."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import elevenlabs
import httpx
import pytest
import websockets
from elevenlabs.core.api_error import ApiError

from tests.conftest import ProxyFactory
from tests.scripted_guards import RefuseBiometrics, Replace, guarded_proxy
from tests.tls import self_signed
from voiceguard import server
from voiceguard.events import (
    AgentText,
    AudioChunk,
    BiometricFeature,
    BiometricRequest,
    Direction,
    ResponseDone,
    TextDelta,
    TTSText,
    Usage,
)
from voiceguard.records import ExchangeFinished
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend
from voiceguard.testing import RecordingSink

VOICE = "JBFqnCBv73JqnFnWJqrW"


@pytest.fixture
async def proxy(
    make_proxy: ProxyFactory, elevenlabs_upstream: RunningApp, observe_disclosure: dict[str, Any]
) -> server.RunningServer:
    return await make_proxy({"elevenlabs": elevenlabs_upstream.url}, **observe_disclosure)


@contextlib.asynccontextmanager
async def client_for(proxy: server.RunningServer) -> AsyncIterator[elevenlabs.AsyncElevenLabs]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield elevenlabs.AsyncElevenLabs(
            api_key="sk-test", base_url=f"{proxy.url}/elevenlabs", httpx_client=http
        )


async def test_speech_is_streamed_back_as_audio_with_seconds_and_character_usage(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    text = "Hello from the agent"
    async with asyncio.timeout(10), client_for(proxy) as client:
        chunks = [
            chunk
            async for chunk in client.text_to_speech.stream(
                VOICE, text=text, model_id="eleven_flash_v2_5", output_format="pcm_16000"
            )
        ]
    audio = b"".join(chunks)
    assert len(audio) == int(len(text) * 0.06 * 16000) * 2
    received = backend.received[-1]
    assert (received.path, received.headers["xi-api-key"]) == (
        f"/v1/text-to-speech/{VOICE}/stream",
        "sk-test",
    )
    assert [e.text for e in recording.events(TTSText)] == [text]
    seconds = sum(e.seconds for e in recording.events(AudioChunk))
    assert seconds == pytest.approx(len(text) * 0.06, abs=0.001)
    assert recording.events(Usage) == [Usage(characters=len(text))]
    [finished] = recording.of(ExchangeFinished)
    assert (finished.exchange.info.operation, finished.exchange.info.stage) == ("speech", "tts")


async def test_whole_speech_arrives_in_one_piece(proxy: server.RunningServer) -> None:
    async with client_for(proxy) as client:
        chunks = [c async for c in client.text_to_speech.convert(VOICE, text="Hi", output_format="ulaw_8000")]
    assert len(b"".join(chunks)) == int(0.12 * 8000)


async def test_with_timestamps_alignment_reaches_the_sdk_and_is_observed_as_spoken_text(
    proxy: server.RunningServer, recording: RecordingSink
) -> None:
    async with client_for(proxy) as client:
        reply = await client.text_to_speech.convert_with_timestamps(VOICE, text="Code 4921.")
    assert reply.alignment is not None and "".join(reply.alignment.characters) == "Code 4921."
    spoken = recording.events(AgentText)
    assert [e.text for e in spoken] == ["Code 4921.", "Code 4921."] and all(e.spoken for e in spoken)


async def test_a_guard_rewriting_spoken_text_rewrites_the_streamed_alignment_arrays(
    tmp_path: Path, elevenlabs_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    guard = Replace("4921", "[code]", Direction.TO_CLIENT)
    proxy = await guarded_proxy(tmp_path, {"elevenlabs": elevenlabs_upstream.url}, recording, guard)
    try:
        async with client_for(proxy) as client:
            chunks = [
                chunk
                async for chunk in client.text_to_speech.stream_with_timestamps(
                    VOICE, text="Your code is 4921 okay"
                )
            ]
    finally:
        await proxy.close()
    assert b"4921" in backend.received[-1].body
    characters = [c for chunk in chunks if chunk.alignment for c in chunk.alignment.characters]
    assert "".join(characters) == "Your code is [code] okay"
    for chunk in chunks:
        assert chunk.alignment is not None
        starts = chunk.alignment.character_start_times_seconds
        assert (
            len(starts) == len(chunk.alignment.characters) == len(chunk.alignment.character_end_times_seconds)
        )


async def test_instant_voice_cloning_is_seen_as_a_biometric_request(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    async with client_for(proxy) as client:
        created = await client.voices.ivc.create(
            name="Ana",
            files=[("ana.wav", io.BytesIO(b"RIFF...."))],
            # a state without a biometric law: cloning is not gated there (README "Consent and biometrics")
            request_options={"additional_headers": {"X-VoiceGuard-Jurisdiction": "US-CA"}},
        )
    assert created.voice_id.startswith("cloned")
    [request] = recording.events(BiometricRequest)
    assert request == BiometricRequest(BiometricFeature.VOICE_CLONING, strippable=False)
    assert b"RIFF...." in backend.received[-1].body


async def test_voice_cloning_without_consent_is_refused_by_the_biometrics_guard_under_the_default_eu(
    proxy: server.RunningServer, backend: Backend
) -> None:
    """No jurisdiction and no caller number: ``policy.default_jurisdiction`` (EU) applies, so GDPR Art. 9."""
    async with client_for(proxy) as client:
        with pytest.raises(ApiError) as refused:
            await client.voices.ivc.create(name="Ana", files=[("ana.wav", io.BytesIO(b"RIFF...."))])
    assert refused.value.status_code == 451
    assert isinstance(refused.value.body, dict) and refused.value.body["error"]["policy"] == "GDPR-9"
    assert backend.received == []


async def test_voice_cloning_refused_by_a_guard_never_reaches_the_vendor(
    tmp_path: Path, elevenlabs_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    proxy = await guarded_proxy(
        tmp_path, {"elevenlabs": elevenlabs_upstream.url}, recording, RefuseBiometrics()
    )
    try:
        async with client_for(proxy) as client:
            with pytest.raises(ApiError) as refused:
                await client.voices.ivc.create(name="Ana", files=[("ana.wav", io.BytesIO(b"RIFF...."))])
    finally:
        await proxy.close()
    assert refused.value.status_code == 403
    assert backend.received == []


def _texts() -> Iterator[str]:
    yield "Hello there, "
    yield "your code is 4921."


async def test_realtime_speech_over_wss_with_the_key_in_the_first_frame_never_recorded(
    tmp_path: Path,
    make_proxy: ProxyFactory,
    elevenlabs_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    observe_disclosure: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``convert_realtime`` forces ``wss``: voiceguard serves TLS, the SDK trusts it via SSL_CERT_FILE."""
    cert, key = self_signed(tmp_path / "tls")
    proxy = await make_proxy(
        {"elevenlabs": elevenlabs_upstream.url},
        tls={"cert": str(cert), "key": str(key)},
        **observe_disclosure,
    )
    assert proxy.url.startswith("https://")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    client = elevenlabs.ElevenLabs(api_key="sk-test", base_url=f"{proxy.url}/elevenlabs")

    def speak() -> bytes:
        return b"".join(
            client.text_to_speech.convert_realtime(VOICE, text=_texts(), output_format="pcm_16000")
        )

    audio = await asyncio.wait_for(asyncio.to_thread(speak), 20)
    assert len(audio) > 0
    frames = [json.loads(f) for f in backend.received[-1].frames]
    assert frames[-1] == {"text": ""}
    assert "".join(f["text"] for f in frames) == " Hello there, your code is 4921. "
    texts = [e.text for e in recording.events(TTSText)]
    assert "".join(texts) == "Hello there, your code is 4921. "
    assert "".join(e.text for e in recording.events(TextDelta) if not e.stream.endswith("normalized")) == (
        "Hello there, your code is 4921. "
    )
    assert sum(e.n_bytes for e in recording.events(AudioChunk)) == len(audio)
    assert recording.events(ResponseDone) == [ResponseDone()]
    assert "sk-test" not in repr(recording.records)


async def test_a_guard_rewrites_stream_input_text_and_the_key_in_the_first_frame_reaches_the_vendor(
    tmp_path: Path, elevenlabs_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    """A raw WebSocket client over plain ``ws://`` (what to use when TLS is not set up)."""
    proxy = await guarded_proxy(
        tmp_path, {"elevenlabs": elevenlabs_upstream.url}, recording, Replace("4921", "[code]")
    )
    url = f"ws://{proxy.host}:{proxy.port}/elevenlabs/v1/text-to-speech/{VOICE}/stream-input?output_format=pcm_16000"
    replies = []
    try:
        async with asyncio.timeout(10), websockets.connect(url) as ws:
            await ws.send(json.dumps({"text": " ", "xi-api-key": "sk-test"}))
            await ws.send(json.dumps({"text": "Your code is 4921. ", "try_trigger_generation": True}))
            await ws.send(json.dumps({"text": ""}))
            async for message in ws:
                replies.append(json.loads(message))
    finally:
        await proxy.close()
    frames = [json.loads(f) for f in backend.received[-1].frames]
    assert frames == [
        {"text": " ", "xi-api-key": "sk-test"},
        {"text": "Your code is [code]. ", "try_trigger_generation": True},
        {"text": ""},
    ]
    assert "".join(replies[0]["alignment"]["chars"]) == "Your code is [code]. "
    assert replies[-1] == {"isFinal": True}
