"""The openai SDK's Responses, transcription and speech calls through voiceguard, understood as events.

Under the embedded default policy the first agent output of each call carries the AI disclosure
(EUAI-50.1-DISCLOSE, inject); each request here is a call of its own.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import openai
import orjson
import pytest

from voiceguard import server
from voiceguard.events import (
    AgentText,
    AudioChunk,
    Direction,
    LLMRequest,
    PromptText,
    TextDelta,
    TextRole,
    Transcript,
    TTSText,
    Usage,
    WireAnomaly,
)
from voiceguard.records import EventObserved
from voiceguard.simulator.audio import tone_pcm16, wav
from voiceguard.simulator.backend import Backend
from voiceguard.testing import RecordingSink

AUDIO = wav(tone_pcm16(0.25, 16_000), 16_000)
DISCLOSURE = "Hi, you're speaking with an AI assistant. "


def client_for(proxy: server.RunningServer, **headers: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0, default_headers=headers
    )


def observed(recording: RecordingSink, kind: type) -> list[Any]:
    return [r.event for r in recording.of(EventObserved) if isinstance(r.event, kind)]


async def test_responses_json_reply(proxy: server.RunningServer, recording: RecordingSink) -> None:
    async with client_for(proxy) as client:
        response = await client.responses.create(
            model="gpt-4.1-mini", instructions="Be brief.", input="What is my balance?"
        )
    assert response.output_text == DISCLOSURE + "You said: What is my balance?"
    assert observed(recording, LLMRequest) == [LLMRequest("gpt-4.1-mini", False, 1, ())]
    assert [e.text for e in observed(recording, PromptText)] == ["Be brief.", "What is my balance?"]
    assert [e.text for e in observed(recording, AgentText)] == [DISCLOSURE + "You said: What is my balance?"]
    assert observed(recording, Usage)[0].input_tokens == 14


async def test_responses_stream_through_the_sdk_stream_helper(
    proxy: server.RunningServer, recording: RecordingSink
) -> None:
    async with (
        client_for(proxy) as client,
        client.responses.stream(
            model="gpt-4.1-mini", input=[{"role": "user", "content": "tell me a story"}]
        ) as stream,
    ):
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(deltas) == final.output_text == DISCLOSURE + "You said: tell me a story"
    assert "".join(e.text for e in observed(recording, TextDelta)) == final.output_text
    assert not observed(recording, WireAnomaly)


@pytest.mark.parametrize("response_format", ["json", "verbose_json", "text", "srt", "vtt"])
async def test_transcription_in_every_format(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink, response_format: str
) -> None:
    backend.script(["call me at five"])
    async with client_for(proxy) as client:
        result: Any = await client.audio.transcriptions.create(
            model="whisper-1",
            file=("speech.wav", io.BytesIO(AUDIO), "audio/wav"),
            response_format=response_format,  # type: ignore[arg-type]
            prompt="Names: Jane",
        )
    text = result if isinstance(result, str) else result.text
    assert "call me at five" in text
    finals = [e for e in observed(recording, Transcript) if e.is_final]
    assert finals and finals[0].text == "call me at five"
    assert observed(recording, PromptText) == [PromptText("Names: Jane", TextRole.INSTRUCTIONS)]
    [upload] = observed(recording, AudioChunk)
    assert upload == AudioChunk(Direction.TO_UPSTREAM, len(AUDIO), 0.25, "pcm16", 16_000)
    if response_format == "verbose_json":
        assert [w.text for w in finals[0].words] == ["call", "me", "at", "five"]
    assert backend.received[-1].body == AUDIO


async def test_streamed_transcription(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    backend.script(["streaming works fine"])
    async with client_for(proxy) as client:
        stream = await client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("speech.wav", io.BytesIO(AUDIO), "audio/wav"), stream=True
        )
        events = [event async for event in stream]
    assert "".join(e.delta for e in events if e.type == "transcript.text.delta") == "streaming works fine"
    assert events[-1].type == "transcript.text.done"
    transcripts = observed(recording, Transcript)
    assert [t.is_final for t in transcripts] == [False, False, False, True]
    assert observed(recording, Usage)[0].model == "gpt-4o-transcribe"


async def test_speech_bytes_are_measured(proxy: server.RunningServer, recording: RecordingSink) -> None:
    async with (
        client_for(proxy) as client,
        client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="alloy", input="Hello there", response_format="pcm"
        ) as response,
    ):
        audio = b"".join([chunk async for chunk in response.iter_bytes()])
    chunks = observed(recording, AudioChunk)
    assert sum(c.n_bytes for c in chunks) == len(audio)
    assert sum(c.seconds for c in chunks) == pytest.approx(len(audio) / 48_000)
    assert observed(recording, TTSText) == [TTSText(DISCLOSURE + "Hello there", "alloy")]


async def test_speech_sse_deltas_are_measured_and_end_with_usage(
    proxy: server.RunningServer, recording: RecordingSink
) -> None:
    async with (
        client_for(proxy) as client,
        client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts",
            voice="alloy",
            input="Hi again",
            response_format="pcm",
            stream_format="sse",
        ) as response,
    ):
        lines = [line async for line in response.iter_lines() if line.startswith("data: ")]
    events = [orjson.loads(line[6:]) for line in lines]
    decoded = sum(len(base64.b64decode(e["audio"])) for e in events if e["type"] == "speech.audio.delta")
    assert events[-1]["type"] == "speech.audio.done"
    assert sum(c.n_bytes for c in observed(recording, AudioChunk)) == decoded
    assert observed(recording, Usage)[0].input_tokens == len((DISCLOSURE + "Hi again").split())


async def test_a_cascaded_turn_across_rest_calls_joins_one_call(
    proxy: server.RunningServer, backend: Backend
) -> None:
    backend.script(["book a table"])
    headers = {"X-VoiceGuard-Call-Id": "call-cascade-1"}
    async with client_for(proxy, **headers) as client:
        heard = await client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("speech.wav", io.BytesIO(AUDIO), "audio/wav")
        )
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": heard.text}], stream=True
        )
        reply = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        async with client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="alloy", input=reply, response_format="pcm"
        ) as speech:
            await speech.read()
    call = proxy.runtime.pipeline.calls.get("call-cascade-1")
    assert call is not None and call.exchange_count == 3
    turn = call.turns.current
    assert turn is not None
    moments = [
        turn.stt_request_ns,
        turn.transcript_final_ns,
        turn.llm_request_ns,
        turn.llm_first_token_ns,
        turn.tts_request_ns,
        turn.tts_first_byte_ns,
    ]
    assert all(m is not None for m in moments)
    assert moments == sorted(moments)  # type: ignore[type-var]
    assert turn.audio_out_s == pytest.approx(len(reply) * 0.06, rel=0.05)
