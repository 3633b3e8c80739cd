"""OpenAI audio codecs on recorded-shape messages: transcription answers and speech requests."""

from __future__ import annotations

import dataclasses

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict

from voiceguard.events import AudioChunk, PromptText, Transcript, TTSText, Usage
from voiceguard.protocols.base import RequestHead
from voiceguard.protocols.openai_audio import AudioStreamCodec, SpeechCodec, TranscriptionCodec, form_fields
from voiceguard.simulator.audio import tone_pcm16, wav

BOUNDARY = "----vg"


def multipart(fields: dict[str, str], audio: bytes) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
        + audio
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def head(path: str, content_type: str) -> RequestHead:
    return RequestHead(
        "POST", path, MultiDict(), CIMultiDictProxy(CIMultiDict({"Content-Type": content_type}))
    )


def test_form_fields_skip_the_audio_file() -> None:
    body = multipart({"model": "gpt-4o-mini-transcribe", "response_format": "json"}, b"RIFF\x00audio")
    fields = form_fields(body, f"multipart/form-data; boundary={BOUNDARY}")
    assert fields == {"model": "gpt-4o-mini-transcribe", "response_format": "json"}


def test_a_json_transcript_is_a_final_transcript_a_guard_can_rewrite() -> None:
    codec = TranscriptionCodec(content_length=1000)
    body = multipart({"model": "gpt-4o-transcribe"}, b"audio")
    codec.request_events(head("/v1/audio/transcriptions", f"multipart/form-data; boundary={BOUNDARY}"), body)
    stream = codec.response_codec(200, {"Content-Type": "application/json"})
    assert stream is not None
    raw = (
        b'{"text":"call me at 555 0100","usage":{"type":"tokens","input_tokens":20,"output_tokens":6,'
        b'"input_token_details":{"audio_tokens":20}}}'
    )
    assert stream.feed(raw) == []
    [unit] = stream.end()
    transcript, usage = unit.events
    assert (
        isinstance(transcript, Transcript)
        and transcript.is_final
        and transcript.text == "call me at 555 0100"
    )
    assert usage == Usage(model="gpt-4o-transcribe", input_tokens=20, output_tokens=6, audio_input_tokens=20)
    redacted = dataclasses.replace(transcript, text="call me at [PHONE]")
    assert stream.render(unit, [redacted, usage]) == raw.replace(b"555 0100", b"[PHONE]")


def test_verbose_transcripts_report_usage_only_and_pass_untouched() -> None:
    codec = TranscriptionCodec(content_length=None)
    assert not codec.needs_request_body  # a large or unsized upload streams through
    stream = codec.response_codec(200, {"Content-Type": "application/json"})
    assert stream is not None
    stream.feed(b'{"text":"hi","segments":[{"text":"hi"}],"duration":1.5}')
    [unit] = stream.end()
    assert unit.events == [Usage(audio_seconds=1.5)]


def test_speech_request_texts_are_events_and_pcm_audio_is_timed() -> None:
    codec = SpeechCodec()
    body = (
        b'{"model":"gpt-4o-mini-tts","voice":"alloy","input":"Hello Ann",'
        b'"instructions":"warm","response_format":"pcm"}'
    )
    events = codec.request_events(head("/v1/audio/speech", "application/json"), body)
    assert [type(e) for e in events] == [TTSText, PromptText]
    assert events[0] == TTSText("Hello Ann", voice="alloy")
    edit = codec.render_request([dataclasses.replace(events[0], text="Hello [NAME]"), events[1]])
    assert edit.body == body.replace(b"Hello Ann", b"Hello [NAME]")
    stream = codec.response_codec(200, {"Content-Type": "audio/pcm"})
    assert isinstance(stream, AudioStreamCodec)
    [first] = stream.feed(b"\x00" * 4800)
    assert first.events[0] == Usage(model="gpt-4o-mini-tts", characters=9)
    assert first.events[1] == AudioChunk(first.events[1].direction, 4800, 0.1, "pcm")  # type: ignore[union-attr]


def test_wav_audio_is_timed_from_its_header() -> None:
    stream = AudioStreamCodec("wav", "tts-1", 5)
    audio = wav(tone_pcm16(0.5, sample_rate=16_000), sample_rate=16_000)
    seconds = sum(
        event.seconds or 0.0
        for unit in stream.feed(audio[:1000]) + stream.feed(audio[1000:])
        for event in unit.events
        if isinstance(event, AudioChunk)
    )
    assert abs(seconds - 0.5) < 1e-3
    [unit] = stream.feed(b"\x01\x02")
    assert stream.render(unit, [e for e in unit.events if not isinstance(e, AudioChunk)]) == b""
