"""Deepgram listen through voiceguard with the official SDK and raw clients: events, guards, exact bytes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

from tests.test_deepgram_sdk_dropin import deepgram_client
from tests.voice_support import RedactDigits, RefuseVoiceprints, StripSpeakers, running_proxy
from voiceguard.events import (
    AudioChunk,
    BiometricFeature,
    BiometricRequest,
    SpeechStarted,
    SpeechStopped,
    Transcript,
    Usage,
)
from voiceguard.records import EventObserved
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.audio import tone_pcm16
from voiceguard.simulator.backend import Backend
from voiceguard.testing import RecordingSink

CARD = "my card is 4111 1111 1111 1111"


def observed(recording: RecordingSink) -> list[Any]:
    return [record.event for record in recording.of(EventObserved)]


async def test_prerecorded_url_body_with_redaction_diarization_and_paragraphs(
    proxy: RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    backend.script([CARD])
    async with deepgram_client(proxy) as client:
        response = await client.listen.v1.media.transcribe_url(
            url="https://example.com/call.wav",
            model="nova-3",
            diarize=True,
            utterances=True,
            paragraphs=True,
            redact="pci",
            # a state without a biometric law: diarization is not gated (README "Consent and biometrics")
            request_options={"additional_headers": {"X-VoiceGuard-Jurisdiction": "US-CA"}},
        )
    alternative = response.results.channels[0].alternatives[0]
    assert alternative.transcript == "my card is [REDACTED] [REDACTED] [REDACTED] [REDACTED]"
    assert {word.speaker for word in alternative.words} == {0}
    received = backend.received[-1]
    assert orjson.loads(received.body) == {"url": "https://example.com/call.wav"}
    assert ("diarize", "true") in received.query and ("redact", "pci") in received.query
    events = observed(recording)
    assert BiometricRequest(BiometricFeature.DIARIZATION) in events
    assert {t.stream for t in events if isinstance(t, Transcript)} >= {"0", "0.paragraphs", "0.utterances"}
    assert any(isinstance(e, Usage) and e.audio_seconds for e in events)


async def test_refused_diarization_never_reaches_deepgram(
    tmp_path: Path, deepgram_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    backend.script(["hello there", "and again"])
    upstreams = {"deepgram": deepgram_upstream.url}
    async with (
        running_proxy(tmp_path, upstreams, recording, [RefuseVoiceprints()]) as proxy,
        deepgram_client(proxy) as client,
    ):
        response = await client.listen.v1.media.transcribe_file(
            request=tone_pcm16(0.5, 16_000), model="nova-3", diarize=True, utterances=True
        )
        async with client.listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate="16000", diarize="true"
        ) as socket:
            await socket.send_media(tone_pcm16(1.0, 16_000))
            await socket.send_close_stream()
            async for _message in socket:
                pass
    prerecorded, live = backend.received[-2:]
    assert [key for key, _ in prerecorded.query] == ["model", "utterances"]
    assert live.query == [("encoding", "linear16"), ("model", "nova-3"), ("sample_rate", "16000")]
    assert response.results.channels[0].alternatives[0].words[0].speaker is None


async def test_a_guards_transcript_rewrite_changes_only_those_bytes(
    tmp_path: Path, deepgram_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    backend.script([CARD])
    upstreams = {"deepgram": deepgram_upstream.url}
    async with (
        running_proxy(tmp_path, upstreams, recording, [RedactDigits()]) as proxy,
        httpx.AsyncClient() as http,
    ):
        reply = await http.post(
            f"{proxy.url}/deepgram/v1/listen?model=nova-3&utterances=true&redact=phi&redact=email_address",
            content=tone_pcm16(0.5, 16_000),
            headers={"Authorization": "Token sk-test", "Content-Type": "application/octet-stream"},
        )
    received = backend.received[-1]
    assert [value for key, value in received.query if key == "redact"] == ["phi", "email_address"]
    assert b"4111" in received.sent[0]
    (sent,) = received.sent
    assert isinstance(sent, bytes)
    expected = (
        sent.replace(b'"4111"', b'"[NUMBER]"')
        .replace(b'"1111"', b'"[NUMBER]"')
        .replace(CARD.encode(), b"my card is [NUMBER] [NUMBER] [NUMBER] [NUMBER]")
    )
    assert reply.status_code == 200 and reply.content == expected


async def test_live_rewrite_changes_only_those_bytes_and_speakers_can_be_removed(
    tmp_path: Path, deepgram_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    backend.script([CARD])
    upstreams = {"deepgram": deepgram_upstream.url}
    guards = [RedactDigits(), StripSpeakers()]
    async with running_proxy(tmp_path, upstreams, recording, guards) as proxy:
        url = f"ws://{proxy.host}:{proxy.port}/deepgram/v1/listen?encoding=linear16&sample_rate=16000&diarize=true"
        async with websockets.connect(url, additional_headers={"Authorization": "Token sk-test"}) as ws:
            await ws.send(tone_pcm16(1.0, 16_000))
            results = await asyncio.wait_for(ws.recv(), 5)
            await ws.send('{"type": "CloseStream"}')
            await asyncio.wait_for(ws.recv(), 5)
    sent = backend.received[-1].sent[0]
    assert isinstance(sent, str) and '"speaker":0' in sent
    expected = (
        sent.replace('"4111"', '"[NUMBER]"')
        .replace('"1111"', '"[NUMBER]"')
        .replace(CARD, "my card is [NUMBER] [NUMBER] [NUMBER] [NUMBER]")
        .replace(',"speaker":0,"speaker_confidence":0.9', "")
    )
    assert results == expected


async def test_live_listen_events_with_finalize_and_keepalive(
    proxy: RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    backend.script(["my name is Jane"])
    messages: list[Any] = []
    async with (
        deepgram_client(proxy) as client,
        client.listen.v1.connect(
            model="nova-3",
            encoding="linear16",
            sample_rate="16000",
            interim_results="true",
            vad_events="true",
            utterance_end_ms="1000",
        ) as socket,
    ):
        for _ in range(5):
            await socket.send_media(tone_pcm16(0.1, 16_000))
        await socket.send_keep_alive()
        await socket.send_finalize()
        await socket.send_close_stream()
        async for message in socket:
            messages.append(message)
    kinds = [getattr(m, "type", None) for m in messages]
    assert kinds == ["SpeechStarted", "Results", "Results", "UtteranceEnd", "Metadata"]
    final = messages[2]
    assert (
        final.is_final
        and final.from_finalize
        and final.channel.alternatives[0].transcript == "my name is Jane"
    )
    events = observed(recording)
    audio = [e for e in events if isinstance(e, AudioChunk)]
    assert len(audio) == 5 and abs(sum(e.seconds or 0 for e in audio) - 0.5) < 1e-9
    assert SpeechStarted(audio_s=0.0) in events
    assert SpeechStopped(audio_s=0.5) in events
    finals = [e for e in events if isinstance(e, Transcript) and e.is_final]
    assert [e.text for e in finals] == ["my name is Jane"]
    assert any(isinstance(e, Usage) and e.audio_seconds == 0.5 for e in events)
    sent_frames = backend.received[-1].frames
    assert '{"type": "KeepAlive"}' in sent_frames and '{"type": "Finalize"}' in sent_frames
