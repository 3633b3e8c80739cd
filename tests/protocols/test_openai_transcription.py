"""OpenAI transcriptions: a recorded SDK upload and every reply format, parsed and rewritten in place."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from voiceguard.events import (
    AudioChunk,
    BiometricFeature,
    BiometricRequest,
    Direction,
    Event,
    PromptText,
    TextRole,
    Transcript,
    Usage,
    WireAnomaly,
    Word,
)
from voiceguard.protocols import multipart
from voiceguard.protocols.base import RequestEdit, RequestHead, StreamCodec, WireUnit
from voiceguard.protocols.openai_rest import OpenAIAdapter
from voiceguard.protocols.openai_transcription import (
    INSPECTED_UPLOAD_BYTES,
    TRANSLATION,
    TranscriptionCodec,
    TranscriptJsonCodec,
    TranscriptStreamCodec,
    TranscriptTextCodec,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"
UPLOAD = (FIXTURES / "transcription_request.multipart").read_bytes()
CONTENT_TYPE = (FIXTURES / "transcription_request.content-type").read_text().strip()
TEXT = "my card is 4111 1111 1111 1111"


def head(length: int | None = len(UPLOAD), path: str = "/v1/audio/transcriptions") -> RequestHead:
    headers = CIMultiDict({"Content-Type": CONTENT_TYPE})
    if length is not None:
        headers["Content-Length"] = str(length)
    return RequestHead("POST", path, MultiDictProxy(MultiDict()), CIMultiDictProxy(headers))


def rewrite(events: list[Event], old: str, new: str) -> list[Event]:
    out: list[Event] = []
    for event in events:
        if isinstance(event, Transcript | PromptText):
            event = dataclasses.replace(event, text=event.text.replace(old, new))
        if isinstance(event, Transcript) and event.words:
            words = tuple(dataclasses.replace(w, text=w.text.replace(old, new)) for w in event.words)
            event = dataclasses.replace(event, words=words)
        out.append(event)
    return out


def one_unit(codec: StreamCodec, raw: bytes) -> WireUnit:
    units = codec.feed(raw[:7]) + codec.feed(raw[7:]) + codec.end()
    assert len(units) == 1
    return units[0]


def test_adapter_routes_transcriptions_and_translations() -> None:
    adapter = OpenAIAdapter()
    assert isinstance(adapter.http(head()), TranscriptionCodec)
    translation = adapter.http(head(path="/v1/audio/translations"))
    assert isinstance(translation, TranscriptionCodec) and translation.info is TRANSLATION


def test_the_upload_is_inspected_and_its_audio_measured() -> None:
    codec = TranscriptionCodec(head(), translation=False)
    assert codec.needs_request_body
    events = codec.request_events(head(), UPLOAD)
    assert events == [
        PromptText("Customer Jane Roe, card 4111 1111 1111 1111", TextRole.INSTRUCTIONS),
        AudioChunk(Direction.TO_UPSTREAM, 1644, 0.05, "pcm16", 16_000),
    ]


def test_a_prompt_rewrite_changes_only_the_prompt_bytes() -> None:
    codec = TranscriptionCodec(head(), translation=False)
    events = codec.request_events(head(), UPLOAD)
    edit = codec.render_request(rewrite(events, "4111 1111 1111 1111", "<CARD>"))
    assert edit.body == UPLOAD.replace(b"4111 1111 1111 1111", b"<CARD>")
    assert codec.render_request(events).body is None


def test_large_or_chunked_uploads_stream_through_uninspected() -> None:
    for length in (INSPECTED_UPLOAD_BYTES + 1, None):
        codec = TranscriptionCodec(head(length), translation=False)
        assert not codec.needs_request_body
        events = codec.request_events(head(length), None)
        assert events == ([AudioChunk(Direction.TO_UPSTREAM, length)] if length else [])


def test_a_broken_multipart_body_is_forwarded_and_counted() -> None:
    codec = TranscriptionCodec(head(), translation=False)
    assert codec.request_events(head(), UPLOAD[:200]) == [WireAnomaly("bad_multipart")]
    assert codec.render_request([WireAnomaly("bad_multipart")]).body is None


def test_verbose_json_gives_words_segments_and_usage_and_rewrites_words_too() -> None:
    raw = (FIXTURES / "transcription_verbose.json").read_bytes()
    codec = TranscriptJsonCodec("whisper-1")
    unit = one_unit(codec, raw)
    text, segment, usage = unit.events
    assert isinstance(text, Transcript) and text.text == TEXT and text.language == "english"
    assert text.words[:2] == (Word("my", 0.0, 0.26), Word("card", 0.26, 0.51))
    assert isinstance(segment, Transcript) and segment.stream == "segment0"
    assert usage == Usage("whisper-1", audio_seconds=2.0)
    assert codec.render(unit, rewrite(unit.events, "4111", "####")) == raw.replace(b"4111", b"####")


def test_json_reply_with_token_usage() -> None:
    raw = b'{"text": "hi there", "usage": {"type": "tokens", "input_tokens": 20, "output_tokens": 2}}'
    unit = one_unit(TranscriptJsonCodec("gpt-4o-transcribe"), raw)
    assert unit.events == [Transcript("hi there", stream="transcript"), Usage("gpt-4o-transcribe", 20, 2)]


@pytest.mark.parametrize("name", ["transcription.srt", "transcription.vtt", "transcription.txt"])
def test_text_and_subtitle_replies_are_transcripts_rewritten_in_place(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    codec = TranscriptTextCodec()
    unit = one_unit(codec, raw)
    assert [e.text for e in unit.events if isinstance(e, Transcript)] == [TEXT]
    assert codec.render(unit, rewrite(unit.events, "4111", "####")) == raw.replace(b"4111", b"####")


def test_multi_cue_subtitles_keep_numbers_timings_and_line_endings() -> None:
    raw = (
        b"1\r\n00:00:00,000 --> 00:00:01,000\r\nhello\r\nthere\r\n\r\n"
        b"2\r\n00:00:01,000 --> 00:00:02,500\r\nbye\r\n"
    )
    codec = TranscriptTextCodec()
    unit = one_unit(codec, raw)
    assert [e.text for e in unit.events if isinstance(e, Transcript)] == ["hello\nthere", "bye"]
    out = codec.render(unit, rewrite(unit.events, "there", "you\nall"))
    assert out == raw.replace(b"there", b"you\r\nall")


def test_stream_deltas_and_done_with_usage() -> None:
    raw = (FIXTURES / "transcription_stream.sse").read_bytes()
    codec = TranscriptStreamCodec("gpt-4o-transcribe")
    units = codec.feed(raw) + codec.end()
    events = [e for u in units for e in u.events]
    partials = [e.text for e in events if isinstance(e, Transcript) and not e.is_final]
    assert "".join(partials) == TEXT
    assert events[-2] == Transcript(TEXT, stream="transcript")
    assert isinstance(events[-1], Usage) and events[-1].input_tokens == 20
    out = b"".join(codec.render(u, rewrite(u.events, "4111", "####")) if u.events else u.raw for u in units)
    assert out == raw.replace(b"4111", b"####")


def test_stream_tolerates_done_markers_and_counts_broken_events() -> None:
    codec = TranscriptStreamCodec(None)
    units = codec.feed(b'data: [DONE]\n\ndata: {"type": "transcript.text.delta"}\n\ndata: nope\n\n')
    assert [u.events for u in units] == [
        [],
        [WireAnomaly("missing_field", "transcript.text.delta")],
        [WireAnomaly("bad_json")],
    ]


def diarize_upload(model: str, *speakers: tuple[str, str]) -> tuple[RequestHead, bytes]:
    fields = [("model", model), ("response_format", "diarized_json")]
    for name, reference in speakers:
        fields += [("known_speaker_names[]", name), ("known_speaker_references[]", reference)]
    body = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (key.encode(), value.encode())
        for key, value in fields
    )
    body += b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF\r\n--B--\r\n'
    headers = CIMultiDict(
        {"Content-Type": "multipart/form-data; boundary=B", "Content-Length": str(len(body))}
    )
    return RequestHead(
        "POST", "/v1/audio/transcriptions", MultiDictProxy(MultiDict()), CIMultiDictProxy(headers)
    ), body


def test_a_diarization_model_is_a_feature_the_request_cannot_go_without() -> None:
    request, body = diarize_upload("gpt-4o-transcribe-diarize")
    codec = TranscriptionCodec(request, translation=False)
    events = codec.request_events(request, body)
    [feature] = [e for e in events if isinstance(e, BiometricRequest)]
    assert feature.feature is BiometricFeature.DIARIZATION and not feature.strippable
    assert codec.render_request(events) == RequestEdit()
    turned_off = [dataclasses.replace(e, enabled=False) if e is feature else e for e in events]
    assert codec.render_request(turned_off).unsendable == "diarization"


def test_known_speaker_references_are_identification_and_are_stripped_from_the_upload() -> None:
    request, body = diarize_upload("gpt-4o-transcribe-diarize", ("agent", "data:audio/wav;base64,UklGRg=="))
    codec = TranscriptionCodec(request, translation=False)
    events = codec.request_events(request, body)
    identify = next(
        e
        for e in events
        if isinstance(e, BiometricRequest) and e.feature is BiometricFeature.SPEAKER_IDENTIFICATION
    )
    out = [dataclasses.replace(e, enabled=False) if e is identify else e for e in events]
    stripped = codec.render_request(out).body
    assert stripped is not None and b"known_speaker" not in stripped and b"UklGRg" not in stripped
    parts = multipart.parse(stripped, b"B")
    assert parts is not None and [p.name for p in parts] == ["model", "response_format", "file"]


def test_plain_transcription_models_ask_for_no_biometric_feature() -> None:
    request, body = diarize_upload("gpt-4o-transcribe")
    codec = TranscriptionCodec(request, translation=False)
    assert not any(isinstance(e, BiometricRequest) for e in codec.request_events(request, body))


def test_a_speaker_label_a_guard_removed_is_removed_from_a_diarized_reply() -> None:
    raw = (
        b'{"task":"transcribe","duration":1.0,"text":"hi there","segments":['
        b'{"type":"transcript.text.segment","id":"seg_0","start":0.0,"end":1.0,'
        b'"text":"hi there","speaker":"A"}]}'
    )
    codec = TranscriptJsonCodec("gpt-4o-transcribe-diarize")
    unit = one_unit(codec, raw)
    segment = next(e for e in unit.events if isinstance(e, Transcript) and e.speaker == "A")
    out = [dataclasses.replace(e, speaker=None) if e is segment else e for e in unit.events]
    rendered = orjson.loads(codec.render(unit, out))
    assert "speaker" not in rendered["segments"][0] and rendered["segments"][0]["text"] == "hi there"
