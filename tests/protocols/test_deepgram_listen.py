"""Deepgram listen: recorded results parse into events, and guards' rewrites go back byte-faithfully."""

from __future__ import annotations

import dataclasses
import re
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
    SpeechStarted,
    SpeechStopped,
    Transcript,
    UpstreamError,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols.base import RequestHead, WireUnit
from voiceguard.protocols.deepgram import DeepgramAdapter
from voiceguard.protocols.deepgram_agent import AgentSocketCodec
from voiceguard.protocols.deepgram_listen import ListenRestCodec, ListenResultCodec, ListenSocketCodec
from voiceguard.protocols.deepgram_speak import SpeakRestCodec, SpeakSocketCodec

FIXTURES = Path(__file__).parent.parent / "fixtures" / "deepgram"


def head(path: str, query: str = "", method: str = "GET", **headers: str) -> RequestHead:
    params = MultiDict(pair.split("=", 1) for pair in query.split("&") if pair)
    return RequestHead(method, path, MultiDictProxy(params), CIMultiDictProxy(CIMultiDict(headers)))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def transcripts(events: list[Event]) -> list[Transcript]:
    return [event for event in events if isinstance(event, Transcript)]


def live_codec(query: str = "encoding=linear16&sample_rate=16000") -> ListenSocketCodec:
    codec = ListenSocketCodec()
    codec.handshake_events(head("/v1/listen", query))
    return codec


def test_adapter_hands_each_deepgram_path_its_codec() -> None:
    adapter = DeepgramAdapter()
    assert isinstance(adapter.http(head("/v1/listen", method="POST")), ListenRestCodec)
    assert isinstance(adapter.http(head("/v1/speak", method="POST")), SpeakRestCodec)
    assert adapter.http(head("/v1/projects")) is None
    assert isinstance(adapter.websocket(head("/v1/listen")), ListenSocketCodec)
    assert isinstance(adapter.websocket(head("/v2/listen")), ListenSocketCodec)
    assert isinstance(adapter.websocket(head("/v1/speak")), SpeakSocketCodec)
    assert isinstance(adapter.websocket(head("/v1/agent/converse")), AgentSocketCodec)
    assert adapter.websocket(head("/v1/unknown")) is None


# --- pre-recorded -----------------------------------------------------------------------------------------


def prerecorded() -> tuple[ListenResultCodec, bytes, list[Event]]:
    raw = fixture("prerecorded_diarized.json")
    codec = ListenResultCodec(model="nova-3")
    assert codec.feed(raw[:100]) == []
    (unit,) = codec.feed(raw[100:]) + codec.end()
    return codec, raw, unit.events


def test_prerecorded_result_surfaces_every_copy_of_the_text() -> None:
    _codec, _raw, events = prerecorded()
    found = transcripts(events)
    assert [(t.stream, t.text) for t in found] == [
        ("0", "My card is 4111 1111 1111 1111."),
        ("0.paragraphs", "\nSpeaker 0: My card is 4111 1111 1111 1111."),
        ("0.sentences", "My card is 4111 1111 1111 1111."),
        ("0.entities", "4111 1111 1111 1111"),
        ("0.entities", "4111 1111 1111 1111"),
        ("0.summaries", "The caller gives the card number 4111 1111 1111 1111."),
        ("0.search", "my card is 4111"),
        ("0.utterances", "My card is 4111 1111 1111 1111."),
        ("summary", "A caller reads out card 4111 1111 1111 1111."),
    ]
    main = found[0]
    assert main.speaker == "0" and main.is_final
    assert [(w.text, w.start, w.end, w.speaker) for w in main.words][:2] == [
        ("My", 0.08, 0.24, "0"),
        ("card", 0.24, 0.48, "0"),
    ]
    assert events[-1] == Usage(model="2-general-nova", audio_seconds=2.4)


def test_an_untouched_result_renders_to_its_own_bytes() -> None:
    raw = fixture("prerecorded_diarized.json")
    codec, unit = _wire(raw)
    assert codec.render(unit, unit.events) == raw


def _rewrite(events: list[Event], old: str, new: str) -> list[Event]:
    return [
        dataclasses.replace(e, text=e.text.replace(old, new))
        if isinstance(e, Transcript) and old in e.text
        else e
        for e in events
    ]


def _wire(raw: bytes) -> tuple[ListenResultCodec, WireUnit]:
    codec = ListenResultCodec(model=None)
    codec.feed(raw)
    (unit,) = codec.end()
    return codec, unit


def test_a_redacted_transcript_leaves_no_raw_word_behind() -> None:
    raw = fixture("prerecorded_diarized.json")
    codec, unit = _wire(raw)
    card = re.compile(r"\d{4}(?: \d{4}){0,3}")
    out = [
        dataclasses.replace(e, text=card.sub("[CARD]", e.text)) if isinstance(e, Transcript) else e
        for e in unit.events
    ]
    rendered = codec.render(unit, out)
    assert b"4111" not in rendered and b"1111" not in rendered
    body = orjson.loads(rendered)
    alternative = body["results"]["channels"][0]["alternatives"][0]
    assert alternative["transcript"] == "My card is [CARD]."
    assert [w["punctuated_word"] for w in alternative["words"]] == ["My", "card", "is", "[CARD]."]
    assert [w["word"] for w in alternative["words"]] == ["my", "card", "is", "[CARD]."]
    assert alternative["words"][3]["start"] == 0.56 and alternative["words"][3]["end"] == 2.16
    assert body["results"]["utterances"][0]["words"][3]["punctuated_word"] == "[CARD]."
    assert body["metadata"] == orjson.loads(raw)["metadata"]
    # everything before the first changed value is the upstream's bytes, spacing included
    assert rendered.startswith(raw[: raw.index(b"My card is 4111")])


def test_guard_changed_words_are_written_where_they_are() -> None:
    raw = fixture("live_results_final.json")
    codec = live_codec()
    unit = codec.upstream_frame(raw, binary=False)
    (original,) = transcripts(unit.events)
    words = list(original.words)
    words[3] = dataclasses.replace(words[3], text="[NUMBER]")
    changed = dataclasses.replace(original, text="my card is [NUMBER]", words=tuple(words))
    (frame,) = codec.render(unit, [changed])
    expected = (
        raw.replace(b'"transcript": "my card is 4111"', b'"transcript": "my card is [NUMBER]"')
        .replace(b'"word": "4111"', b'"word": "[NUMBER]"')
        .replace(b'"punctuated_word": "4111"', b'"punctuated_word": "[NUMBER]"')
    )
    assert frame.raw == expected and not frame.binary


def test_removing_speakers_removes_every_speaker_label_of_the_message() -> None:
    raw = fixture("prerecorded_diarized.json")
    codec, unit = _wire(raw)
    out = [
        dataclasses.replace(
            e, speaker=None, words=tuple(dataclasses.replace(w, speaker=None) for w in e.words)
        )
        if isinstance(e, Transcript) and e.stream == "0"
        else e
        for e in unit.events
    ]
    rendered = codec.render(unit, out)
    assert b"speaker" not in rendered.replace(b"Speaker", b"")
    assert b"Speaker 0" not in rendered
    body, original = orjson.loads(rendered), orjson.loads(raw)

    def without_speakers(value: object) -> object:
        if isinstance(value, dict):
            return {
                k: without_speakers(v) for k, v in value.items() if k not in ("speaker", "speaker_confidence")
            }
        if isinstance(value, list):
            return [without_speakers(v) for v in value]
        return value.replace("Speaker 0: ", "") if isinstance(value, str) else value

    assert body == without_speakers(original)


def test_a_held_transcript_goes_out_empty_without_words() -> None:
    raw = fixture("live_results_final.json")
    codec = live_codec()
    unit = codec.upstream_frame(raw, binary=False)
    (frame,) = codec.render(unit, [])
    alternative = orjson.loads(frame.raw)["channel"]["alternatives"][0]
    assert alternative["transcript"] == "" and alternative["words"] == []


def test_a_rewrite_that_shortens_words_merges_them_and_keeps_the_timing() -> None:
    raw = fixture("live_results_final.json")
    codec = live_codec()
    unit = codec.upstream_frame(raw, binary=False)
    (original,) = transcripts(unit.events)
    (frame,) = codec.render(unit, [dataclasses.replace(original, text="[REDACTED]")])
    alternative = orjson.loads(frame.raw)["channel"]["alternatives"][0]
    assert alternative["transcript"] == "[REDACTED]"
    assert [(w["word"], w["start"], w["end"]) for w in alternative["words"]] == [("[REDACTED]", 0.08, 0.96)]


# --- live -----------------------------------------------------------------------------------------------


def test_live_results_are_transcripts_with_finality_and_end_of_turn() -> None:
    codec = live_codec()
    (interim,) = transcripts(codec.upstream_frame(fixture("live_results_interim.json"), False).events)
    (final,) = transcripts(codec.upstream_frame(fixture("live_results_final.json"), False).events)
    assert (interim.text, interim.is_final, interim.end_of_turn, interim.stream) == (
        "my card",
        False,
        False,
        "0",
    )
    assert (final.is_final, final.end_of_turn, final.speaker) == (True, True, "0")
    assert codec.upstream_frame(fixture("live_results_silence.json"), False).events == []


def test_live_voice_activity_metadata_and_errors_become_events() -> None:
    codec = live_codec()
    assert codec.upstream_frame(fixture("live_speech_started.json"), False).events == [
        SpeechStarted(audio_s=0.08)
    ]
    assert codec.upstream_frame(fixture("live_utterance_end.json"), False).events == [
        SpeechStopped(audio_s=2.16)
    ]
    assert codec.upstream_frame(fixture("live_metadata.json"), False).events == [
        Usage(model="2-general-nova", audio_seconds=3.2)
    ]
    assert codec.upstream_frame(fixture("live_error.json"), False).events == [
        UpstreamError(code="INVALID_AUDIO", message="Failed to process audio.", error_type="DATA-0000")
    ]


def test_control_messages_pass_without_events() -> None:
    codec = live_codec()
    for message in (b'{"type": "KeepAlive"}', b'{"type": "Finalize"}', b'{"type": "CloseStream"}'):
        assert codec.client_frame(message, False).events == []


def test_audio_frames_are_counted_by_their_declared_format_without_copying() -> None:
    codec = live_codec("encoding=linear16&sample_rate=16000&channels=2")
    audio = bytes(6400)
    unit = codec.client_frame(audio, binary=True)
    assert unit.events == [AudioChunk(Direction.TO_UPSTREAM, 6400, 0.1, "linear16", 16000)]
    assert unit.raw is audio
    containerised = live_codec("model=nova-3")
    assert containerised.client_frame(audio, True).events == [AudioChunk(Direction.TO_UPSTREAM, 6400)]


def test_flux_turns_are_transcripts_ending_at_end_of_turn() -> None:
    codec = live_codec()
    started = codec.upstream_frame(fixture("flux_start_of_turn.json"), False).events
    assert started[0] == SpeechStarted(audio_s=0.32)
    assert transcripts(started)[0].is_final is False
    (done,) = codec.upstream_frame(fixture("flux_end_of_turn.json"), False).events
    assert isinstance(done, Transcript) and done.is_final and done.end_of_turn
    assert [w.text for w in done.words] == ["call", "me", "at", "555", "0100"]
    unit = codec.upstream_frame(fixture("flux_end_of_turn.json"), False)
    (frame,) = codec.render(unit, _rewrite(unit.events, "555 0100", "[PHONE]"))
    body = orjson.loads(frame.raw)
    assert body["transcript"] == "call me at [PHONE]"
    assert [w["word"] for w in body["words"]] == ["call", "me", "at", "[PHONE]"]


def test_a_transcript_released_later_goes_out_as_its_own_results_message() -> None:
    codec = live_codec()
    unit = codec.upstream_frame(fixture("live_results_final.json"), False)
    (original,) = transcripts(unit.events)
    released = Transcript("and my name is [NAME]", is_final=True, stream="0")
    frames = codec.render(unit, [original, released])
    assert len(frames) == 2 and frames[0].raw == unit.raw
    injected = orjson.loads(frames[1].raw)
    assert injected["type"] == "Results" and injected["metadata"]["request_id"]
    assert injected["channel"]["alternatives"][0]["transcript"] == "and my name is [NAME]"


# --- voiceprint options ------------------------------------------------------------------------------


def test_diarization_options_are_biometric_requests_and_refused_ones_are_stripped() -> None:
    codec = ListenSocketCodec()
    query = "model=nova-3&diarize=true&redact=pci&diarize_model=latest&redact=ssn"
    events = codec.handshake_events(head("/v1/listen", query))
    assert [(e.feature, e.enabled) for e in events if isinstance(e, BiometricRequest)] == [
        (BiometricFeature.DIARIZATION, True),
        (BiometricFeature.DIARIZATION, True),
    ]
    refused = [dataclasses.replace(e, enabled=False) for e in events]
    edit = codec.render_handshake(refused)
    assert edit.query is not None
    assert list(edit.query.items()) == [("model", "nova-3"), ("redact", "pci"), ("redact", "ssn")]
    assert codec.render_handshake(events).query is None
    assert codec.render_handshake([]).query is not None  # held back: fail closed


def test_diarize_false_asks_for_nothing() -> None:
    codec = ListenRestCodec()
    assert codec.request_events(head("/v1/listen", "diarize=false", "POST"), None) == []


def test_prerecorded_request_reports_the_upload_size_and_strips_refused_options() -> None:
    codec = ListenRestCodec()
    request = head(
        "/v1/listen", "diarize=true&encoding=mulaw&sample_rate=8000", "POST", **{"Content-Length": "8000"}
    )
    events = codec.request_events(request, None)
    assert events[1] == AudioChunk(Direction.TO_UPSTREAM, 8000, 1.0, "mulaw", 8000)
    edit = codec.render_request([dataclasses.replace(events[0], enabled=False), events[1]])
    assert edit.query is not None and list(edit.query.items()) == [
        ("encoding", "mulaw"),
        ("sample_rate", "8000"),
    ]
    assert edit.body is None
    url_body = head(
        "/v1/listen", "diarize=true", "POST", **{"Content-Type": "application/json", "Content-Length": "40"}
    )
    assert len(ListenRestCodec().request_events(url_body, None)) == 1


def test_configure_turning_diarization_on_mid_stream_can_be_refused() -> None:
    codec = live_codec()
    raw = fixture("configure_diarize.json")
    unit = codec.client_frame(raw, False)
    (request,) = unit.events
    assert isinstance(request, BiometricRequest)
    (frame,) = codec.render(unit, [dataclasses.replace(request, enabled=False)])
    assert frame.raw == b'{"type": "Configure", "features": {"numerals": true}}'


# --- malformed ---------------------------------------------------------------------------------------


def test_malformed_and_unknown_server_messages_never_crash_and_pass_untouched() -> None:
    codec = live_codec()
    for line in fixture("malformed_server.jsonl").splitlines():
        unit = codec.upstream_frame(line, False)
        frames = codec.render(unit, unit.events)
        assert [f.raw for f in frames] == [line]
        if not line.startswith(b"{") or not line.endswith(b"}"):
            assert unit.events == [WireAnomaly("malformed_json")]


def test_a_result_that_is_not_json_is_counted_and_forwarded() -> None:
    codec = ListenResultCodec(model=None)
    codec.feed(b"<html>bad gateway</html>")
    (unit,) = codec.end()
    assert unit.events == [WireAnomaly("malformed_json", "listen_result")]
    assert codec.render(unit, unit.events) == b"<html>bad gateway</html>"


@pytest.mark.parametrize("line", fixture("malformed_server.jsonl").splitlines())
def test_rewriting_whatever_a_malformed_message_yielded_still_renders(line: bytes) -> None:
    codec = live_codec()
    unit = codec.upstream_frame(line, False)
    out = [dataclasses.replace(e, text="x") if isinstance(e, Transcript) else e for e in unit.events]
    for frame in codec.render(unit, out):
        assert isinstance(frame.raw, bytes)
