"""OpenAI speech: the request's texts, and reply audio measured as bytes and as SSE deltas."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from voiceguard.events import AudioChunk, Direction, PromptText, TextRole, TTSText, Usage, WireAnomaly
from voiceguard.protocols.audioformat import PCM16_24K, AudioFormat
from voiceguard.protocols.base import RequestHead
from voiceguard.protocols.openai_rest import OpenAIAdapter
from voiceguard.protocols.openai_speech import SpeechAudioCodec, SpeechCodec, SpeechStreamCodec
from voiceguard.simulator.audio import tone_pcm16, wav

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"
HEAD = RequestHead("POST", "/v1/audio/speech", MultiDictProxy(MultiDict()), CIMultiDictProxy(CIMultiDict()))
REQUEST = (
    b'{"model": "gpt-4o-mini-tts", "input": "Your code is 4821.", "voice": "coral", '
    b'"instructions": "Speak calmly.", "response_format": "pcm"}'
)


def test_adapter_routes_speech() -> None:
    assert isinstance(OpenAIAdapter().http(HEAD), SpeechCodec)


def test_input_is_tts_text_and_instructions_are_not_spoken() -> None:
    codec = SpeechCodec()
    events = codec.request_events(HEAD, REQUEST)
    assert events == [
        TTSText("Your code is 4821.", "coral"),
        PromptText("Speak calmly.", TextRole.INSTRUCTIONS),
    ]
    out = [
        dataclasses.replace(e, text="Your code is <CODE>.") if isinstance(e, TTSText) else e for e in events
    ]
    assert codec.render_request(out).body == REQUEST.replace(b"4821", b"<CODE>")


def test_pcm_reply_is_measured_at_24_khz_chunk_by_chunk() -> None:
    codec = SpeechCodec()
    codec.request_events(HEAD, REQUEST)
    audio_codec = codec.response_codec(200, {"Content-Type": "audio/pcm"})
    assert isinstance(audio_codec, SpeechAudioCodec)
    [first] = audio_codec.feed(b"\x00" * 4800)
    assert first.events == [AudioChunk(Direction.TO_CLIENT, 4800, 0.1, "pcm16", 24_000)]
    assert audio_codec.render(first, first.events) == first.raw
    assert audio_codec.render(first, []) == b""


def test_wav_reply_takes_its_format_from_the_header_even_when_split() -> None:
    audio = wav(tone_pcm16(0.5, 16_000), 16_000)
    codec = SpeechAudioCodec(AudioFormat("wav"))
    units = [u for offset in range(0, len(audio), 20) for u in codec.feed(audio[offset : offset + 20])]
    seconds = sum(e.seconds or 0 for u in units for e in u.events if isinstance(e, AudioChunk))
    assert abs(seconds - 0.5) < 1e-9
    assert b"".join(u.raw for u in units) == audio


def test_compressed_replies_give_bytes_only() -> None:
    codec = SpeechCodec()
    codec.request_events(HEAD, REQUEST.replace(b'"pcm"', b'"mp3"'))
    audio_codec = codec.response_codec(200, {"Content-Type": "audio/mpeg"})
    assert audio_codec is not None
    [unit] = audio_codec.feed(b"ID3....")
    assert unit.events == [AudioChunk(Direction.TO_CLIENT, 7, None, "mp3", None)]


def test_sse_reply_is_measured_from_base64_and_ends_with_usage() -> None:
    raw = (FIXTURES / "speech_stream.sse").read_bytes()
    codec = SpeechCodec()
    codec.request_events(HEAD, REQUEST)
    stream = codec.response_codec(200, {"Content-Type": "text/event-stream"})
    assert isinstance(stream, SpeechStreamCodec)
    units = stream.feed(raw) + stream.end()
    chunks = [e for u in units for e in u.events if isinstance(e, AudioChunk)]
    total = sum(
        len(orjson.loads(line[6:])["audio"]) * 3 // 4 - orjson.loads(line[6:])["audio"].count("=")
        for line in raw.splitlines()
        if b"speech.audio.delta" in line
    )
    assert sum(c.n_bytes for c in chunks) == total
    assert chunks[0].encoding == "pcm16" and chunks[0].seconds == chunks[0].n_bytes / 48_000
    assert units[-1].events == [Usage("gpt-4o-mini-tts", 1, 20)]


def test_sse_audio_that_is_not_base64_is_counted() -> None:
    stream = SpeechStreamCodec(PCM16_24K, None)
    [unit] = stream.feed(b'data: {"type": "speech.audio.delta", "audio": "%%%"}\n\n')
    assert unit.events == [WireAnomaly("invalid_base64", "speech.audio.delta")]
