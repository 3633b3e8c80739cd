"""The official openai SDK works unchanged through voiceguard: only its base URL points at the proxy.

With the embedded default policy, the first agent output of every call carries the AI disclosure
(EUAI-50.1-DISCLOSE, mode inject); each request below is a call of its own, so each reply starts with it.
"""

from __future__ import annotations

import io

import openai
import pytest

from voiceguard.records import ExchangeFinished
from voiceguard.server import RunningServer
from voiceguard.simulator.audio import tone_pcm16, wav
from voiceguard.simulator.backend import Backend, Reply, ToolCallSpec
from voiceguard.testing import RecordingSink

DISCLOSURE = "Hi, you're speaking with an AI assistant. "


def client_for(proxy: RunningServer, **kwargs: object) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0, **kwargs)  # type: ignore[arg-type]


async def test_chat_completion_round_trips_through_the_proxy(proxy: RunningServer, backend: Backend) -> None:
    async with client_for(proxy) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "What time is it?"}]
        )
    assert completion.choices[0].message.content == DISCLOSURE + "You said: What time is it?"
    assert completion.usage is not None and completion.usage.prompt_tokens == 12
    received = backend.received[-1]
    assert received.path == "/v1/chat/completions"
    assert received.headers["Authorization"] == "Bearer sk-test"


async def test_streamed_chat_completion_arrives_chunk_by_chunk_with_usage(proxy: RunningServer) -> None:
    async with client_for(proxy) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "tell me a story"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == DISCLOSURE + "You said: tell me a story"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    assert len(chunks) > 5


async def test_streamed_tool_call_arguments_arrive_intact(proxy: RunningServer, backend: Backend) -> None:
    backend.responder = lambda _prompt: Reply(
        tool_calls=(ToolCallSpec("lookup_order", '{"order": "A-1234"}'),)
    )
    async with client_for(proxy) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "where is my order"}],
            tools=[
                {"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object"}}}
            ],
            stream=True,
        )
        arguments = ""
        async for chunk in stream:
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                arguments += call.function.arguments or "" if call.function else ""
    assert arguments == '{"order": "A-1234"}'


async def test_audio_transcription_multipart_upload(proxy: RunningServer, backend: Backend) -> None:
    backend.script(["my card number is on the way"])
    audio = wav(tone_pcm16(0.5, 16_000), 16_000)
    async with client_for(proxy) as client:
        transcript = await client.audio.transcriptions.create(
            model="whisper-1",
            file=("speech.wav", io.BytesIO(audio), "audio/wav"),
            response_format="verbose_json",
            timestamp_granularities=["word"],
        )
    assert transcript.text == "my card number is on the way"
    assert transcript.words is not None and [w.word for w in transcript.words][:2] == ["my", "card"]
    assert backend.received[-1].body == audio


async def test_speech_binary_audio_streams_back(proxy: RunningServer, backend: Backend) -> None:
    async with (
        client_for(proxy) as client,
        client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="alloy", input="Hello from the agent", response_format="pcm"
        ) as response,
    ):
        chunks = [chunk async for chunk in response.iter_bytes()]
        content_type = response.headers["content-type"]
    audio = b"".join(chunks)
    spoken = DISCLOSURE + "Hello from the agent"
    assert content_type == "audio/pcm"
    assert len(audio) == len(tone_pcm16(len(spoken) * 0.06))
    assert len(chunks) > 1


async def test_wrong_key_reaches_the_client_as_the_vendors_401(proxy: RunningServer) -> None:
    async with openai.AsyncOpenAI(
        api_key="sk-wrong", base_url=f"{proxy.url}/openai/v1", max_retries=0
    ) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


async def test_each_request_is_logged_as_one_finished_exchange(
    proxy: RunningServer, recording: RecordingSink
) -> None:
    async with client_for(proxy) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    finished = recording.of(ExchangeFinished)
    assert len(finished) == 1
    exchange = finished[0].exchange
    assert (exchange.route, exchange.status, exchange.info.operation) == ("openai", 200, "chat")
