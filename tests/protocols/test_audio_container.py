"""AI-generated marking inside audio containers, read back with independent readers (wave, mutagen)."""

from __future__ import annotations

import io
import struct
import wave

import mutagen.flac
import mutagen.id3
import mutagen.mp3
import pytest

from voiceguard.protocols.audio_container import MAX_HEAD_BYTES, ContainerMarker, format_of
from voiceguard.simulator.audio import silent_mp3, tone_pcm16, wav

FIELDS = (
    ("ai_generated", "true"),
    ("digital_source_type", "http://example.test/ai"),
    ("comment", "AI speech"),
)


def marked(container: str, data: bytes, piece: int = 7) -> tuple[bytes, str]:
    """Feed ``data`` in small pieces, as a network would deliver it."""
    marker = ContainerMarker(container, FIELDS)
    out = b"".join(marker.feed(data[i : i + piece]) for i in range(0, len(data), piece)) + marker.end()
    return out, marker.outcome


def test_wav_gets_an_info_chunk_before_its_data_and_a_consistent_riff_size() -> None:
    pcm = tone_pcm16(0.2)
    out, outcome = marked("wav", wav(pcm))
    assert outcome == "marked"
    with wave.open(io.BytesIO(out)) as reader:
        assert reader.readframes(reader.getnframes()) == pcm
    (riff_size,) = struct.unpack_from("<I", out, 4)
    assert riff_size == len(out) - 8
    assert out.index(b"LIST") < out.index(b"data")
    assert b"ai_generated=true" in out and b"ISFT" in out


def test_streamed_wav_with_an_unknown_size_keeps_it_unknown() -> None:
    source = bytearray(wav(tone_pcm16(0.1)))
    source[4:8] = b"\xff\xff\xff\xff"
    out, _ = marked("wav", bytes(source))
    assert out[4:8] == b"\xff\xff\xff\xff"


def test_mp3_without_a_tag_gets_an_id3v24_tag_in_front() -> None:
    out, outcome = marked("mp3", silent_mp3(0.5))
    assert outcome == "marked"
    parsed = mutagen.mp3.MP3(io.BytesIO(out))
    assert parsed.tags is not None and parsed.tags.version[:2] == (2, 4)
    assert {f.desc: f.text[0] for f in parsed.tags.getall("TXXX")}["AI_GENERATED"] == "true"
    assert parsed.info.length == pytest.approx(0.5, abs=0.03)


def test_mp3_with_its_own_id3v23_tag_gets_the_frames_added_to_that_tag() -> None:
    tag = mutagen.id3.ID3()
    tag.add(mutagen.id3.TIT2(encoding=0, text="Greeting"))
    buffer = io.BytesIO()
    tag.save(buffer, v2_version=3, padding=lambda info: 0)
    out, _ = marked("mp3", buffer.getvalue() + silent_mp3(0.3))
    parsed = mutagen.mp3.MP3(io.BytesIO(out))
    assert parsed.tags is not None and parsed.tags.version[:2] == (2, 3)
    assert str(parsed.tags["TIT2"]) == "Greeting"
    assert {f.desc for f in parsed.tags.getall("TXXX")} == {"AI_GENERATED", "DIGITAL_SOURCE_TYPE", "COMMENT"}
    assert out.count(b"ID3") == 1


def flac_head(comment_block: bytes | None) -> bytes:
    streaminfo = struct.pack(">HH", 4096, 4096) + b"\x00" * 6 + bytes([0x0B, 0xB8, 0x00, 0xF0]) + b"\x00" * 24
    blocks = [(0, streaminfo)] + ([(4, comment_block)] if comment_block is not None else [])
    out = b"fLaC"
    for index, (kind, body) in enumerate(blocks):
        last = 0x80 if index == len(blocks) - 1 else 0
        out += bytes([last | kind]) + len(body).to_bytes(3, "big") + body
    return out + b"\xff\xf8" + b"\x00" * 64  # the start of a frame, never touched


def vorbis(vendor: bytes, comments: list[bytes]) -> bytes:
    body = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    return body + b"".join(struct.pack("<I", len(c)) + c for c in comments)


@pytest.mark.parametrize("existing", [None, vorbis(b"libFLAC 1.4.3", [b"TITLE=Greeting"])])
def test_flac_gets_vorbis_comments_in_its_single_comment_block(existing: bytes | None) -> None:
    out, outcome = marked("flac", flac_head(existing))
    assert outcome == "marked"
    parsed = mutagen.flac.FLAC(io.BytesIO(out))
    assert parsed.tags is not None
    assert parsed.tags["AI_GENERATED"] == ["true"]
    assert sum(block.code == 4 for block in parsed.metadata_blocks) == 1
    if existing is not None:
        assert parsed.tags["TITLE"] == ["Greeting"]
    assert out.endswith(b"\xff\xf8" + b"\x00" * 64)


def test_a_stream_that_is_not_the_announced_format_passes_untouched() -> None:
    pcm = tone_pcm16(0.1)
    assert marked("wav", pcm) == (pcm, "unparsed")
    assert marked("flac", pcm) == (pcm, "unparsed")


def test_a_head_that_never_completes_is_released_once_the_buffer_limit_is_reached() -> None:
    endless = b"RIFF\xff\xff\xff\xffWAVE" + b"JUNK" + struct.pack("<I", 0xFFFFFF00)
    data = endless + b"\x00" * (MAX_HEAD_BYTES + 10)
    out, outcome = marked("wav", data, piece=65536)
    assert (out, outcome) == (data, "unparsed")


def test_content_types_name_the_markable_containers() -> None:
    assert [format_of(t) for t in ("audio/wav", "audio/mpeg; charset=x", "audio/flac", "audio/pcm")] == [
        "wav",
        "mp3",
        "flac",
        None,
    ]
