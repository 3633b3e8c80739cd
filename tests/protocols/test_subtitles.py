"""srt and vtt cues: texts and times found, a cue's text replaced in place."""

from __future__ import annotations

from voiceguard.protocols import subtitles

VTT = (
    b"WEBVTT\n\nNOTE made by a test\n\n"
    b"cue-1\n00:01.000 --> 00:02.500\nhello\n\n"
    b"00:00:03.000 --> 00:00:04.000\nbye\n"
)


def test_vtt_cues_with_and_without_ids_and_hours() -> None:
    cues = subtitles.cues(VTT)
    assert cues is not None
    assert [(c.text, c.start_s, c.end_s) for c in cues] == [("hello", 1.0, 2.5), ("bye", 3.0, 4.0)]
    assert subtitles.replace(VTT, [(cues[1], "ciao")]) == VTT.replace(b"bye", b"ciao")


def test_sniffing_and_invalid_text() -> None:
    assert subtitles.looks_like_subtitles(VTT)
    assert not subtitles.looks_like_subtitles(b"just words\n")
    assert subtitles.cues(b"1\n00:00:00,000 --> 00:00:01,000\n\xff\n") is None
