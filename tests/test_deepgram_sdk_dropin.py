"""The official deepgram-sdk works unchanged through voiceguard, by its environment override."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment

from voiceguard.server import RunningServer
from voiceguard.simulator.audio import tone_pcm16
from voiceguard.simulator.backend import Backend


@asynccontextmanager
async def deepgram_client(
    proxy: RunningServer, api_key: str = "sk-test"
) -> AsyncIterator[AsyncDeepgramClient]:
    """The SDK's documented environment override: copy PRODUCTION and point its URLs at voiceguard."""
    env = copy.copy(DeepgramClientEnvironment.PRODUCTION)
    env.base = f"{proxy.url}/deepgram"
    env.production = f"ws://{proxy.host}:{proxy.port}/deepgram"
    env.agent = f"ws://{proxy.host}:{proxy.port}/deepgram-agent"
    async with httpx.AsyncClient(timeout=30) as http:
        yield AsyncDeepgramClient(api_key=api_key, environment=env, httpx_client=http)


async def test_prerecorded_listen_with_options(proxy: RunningServer, backend: Backend) -> None:
    backend.script(["hello I would like to pay my bill"])
    audio = tone_pcm16(1.0, 16_000)
    async with deepgram_client(proxy) as client:
        response = await client.listen.v1.media.transcribe_file(
            request=audio, model="nova-3", smart_format=True, utterances=True
        )
    alternative = response.results.channels[0].alternatives[0]
    assert alternative.transcript == "hello I would like to pay my bill"
    assert alternative.words[0].start == 0.0
    received = backend.received[-1]
    assert received.body == audio
    assert ("model", "nova-3") in received.query and ("smart_format", "true") in received.query
    assert received.headers["Authorization"] == "Token sk-test"


async def _live_session(client: AsyncDeepgramClient, chunks: int) -> list[Any]:
    messages: list[Any] = []
    async with client.listen.v1.connect(
        model="nova-3",
        encoding="linear16",
        sample_rate="16000",
        interim_results="true",
        vad_events="true",
        utterance_end_ms="1000",
    ) as socket:
        audio = tone_pcm16(0.1, 16_000)

        async def send() -> None:
            for _ in range(chunks):
                await socket.send_media(audio)
            await socket.send_close_stream()

        sender = asyncio.create_task(send())
        async for message in socket:
            messages.append(message)
        await sender
    return messages


async def test_live_listen_over_websocket(proxy: RunningServer, backend: Backend) -> None:
    backend.script(["my account number please", "thank you"])
    async with deepgram_client(proxy) as client:
        messages = await _live_session(client, chunks=15)
    kinds = [getattr(m, "type", None) for m in messages]
    assert kinds[0] == "SpeechStarted"
    finals = [m for m in messages if getattr(m, "type", None) == "Results" and m.is_final]
    assert [f.channel.alternatives[0].transcript for f in finals] == ["my account number please", "thank you"]
    assert finals[0].speech_final is True
    assert "UtteranceEnd" in kinds and kinds[-1] == "Metadata"
    live = backend.received[-1]
    assert sum(len(f) for f in live.frames if isinstance(f, bytes)) == 15 * 3200


async def test_live_listen_authenticates_by_subprotocol_token(proxy: RunningServer, backend: Backend) -> None:
    """Browsers cannot set headers: the key rides in Sec-WebSocket-Protocol and ``token`` is echoed."""
    url = f"ws://{proxy.host}:{proxy.port}/deepgram/v1/listen?encoding=linear16&sample_rate=16000"
    async with websockets.connect(url, subprotocols=["token", "sk-test"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "token"
        await ws.send(tone_pcm16(1.0, 16_000))
        reply = await asyncio.wait_for(ws.recv(), 5)
        assert '"type":"Results"' in reply
        await ws.send('{"type": "CloseStream"}')
        with_metadata = await asyncio.wait_for(ws.recv(), 5)
        assert '"Metadata"' in with_metadata
    assert "Authorization" not in backend.received[-1].headers


async def test_live_listen_with_a_wrong_key_is_refused_with_the_vendors_status(proxy: RunningServer) -> None:
    url = f"ws://{proxy.host}:{proxy.port}/deepgram/v1/listen"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers={"Authorization": "Token nope"}):
            pass
    assert refused.value.response.status_code == 401
