"""Writing an AI-generated marking into the metadata of audio containers, on the stream, without re-encoding.

Where each format keeps text metadata, and what the marker does there:

- **WAV** (RIFF): a ``LIST``/``INFO`` chunk (``ICMT`` comment, ``ISFT`` software, ``IKEY`` keywords) inserted
  before the ``data`` chunk; the RIFF size grows by the chunk's length unless the stream declares it unknown
  (``0xFFFFFFFF``), as streamed WAV often does. Every WAV reader skips chunks it does not know.
- **MP3**: ID3v2 ``TXXX`` frames. A stream that opens with an ID3v2.3/2.4 tag gets the frames added to it;
  any other stream gets a new ID3v2.4 tag in front (decoders skip ID3 tags by design).
- **FLAC**: ``VORBIS_COMMENT`` fields, added to the stream's comment block or in a new block after
  ``STREAMINFO`` (FLAC allows only one comment block).

Raw PCM, Opus-in-Ogg and AAC (ADTS) streams are not marked here: PCM has no container, and rewriting Ogg
pages or ADTS would mean re-framing the audio. Those rely on the response headers. Only the head of the
stream is buffered (up to ``MAX_HEAD_BYTES``); a stream whose head does not parse is passed on untouched.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

MAX_HEAD_BYTES: Final = 256 * 1024
RIFF_UNKNOWN_SIZE: Final = 0xFFFFFFFF
FORMATS_BY_CONTENT_TYPE: Final = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
}


def format_of(content_type: str) -> str | None:
    """The markable container a response's content type names, if any."""
    return FORMATS_BY_CONTENT_TYPE.get(content_type.split(";", 1)[0].strip().lower())


def _ascii(value: str) -> bytes:
    return value.encode("ascii", "replace")


# --- WAV ---------------------------------------------------------------------------------------------------


def _info_entry(key: bytes, value: str) -> bytes:
    text = _ascii(value) + b"\x00"
    if len(text) % 2:
        text += b"\x00"
    return key + struct.pack("<I", len(text)) + text


def wav_info_chunk(fields: Sequence[tuple[str, str]]) -> bytes:
    """A ``LIST``/``INFO`` chunk carrying the marking."""
    values = dict(fields)
    comment = "; ".join(f"{key}={value}" for key, value in fields if key != "comment")
    entries = (
        _info_entry(b"ICMT", f"{values.get('comment', 'AI-generated')} ({comment})")
        + _info_entry(b"ISFT", values.get("generator", "voiceguard"))
        + _info_entry(b"IKEY", "AI-generated")
    )
    body = b"INFO" + entries
    return b"LIST" + struct.pack("<I", len(body)) + body


def mark_wav(head: bytes, fields: Sequence[tuple[str, str]]) -> tuple[bytes, int] | None:
    """``head`` with the INFO chunk inserted, and how many input bytes it consumed; ``None``: need more.

    Raises ``ValueError`` when ``head`` is not a RIFF/WAVE stream.
    """
    if len(head) < 12:
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    offset = 12
    while True:
        if len(head) < offset + 8:
            return None
        chunk_id = head[offset : offset + 4]
        if chunk_id == b"data":
            break
        (size,) = struct.unpack_from("<I", head, offset + 4)
        offset += 8 + size + (size % 2)
    chunk = wav_info_chunk(fields)
    (riff_size,) = struct.unpack_from("<I", head, 4)
    if riff_size not in (0, RIFF_UNKNOWN_SIZE):
        riff_size = min(RIFF_UNKNOWN_SIZE - 1, riff_size + len(chunk))
    out = head[:4] + struct.pack("<I", riff_size) + head[8:offset] + chunk
    return out, offset


# --- MP3 (ID3v2) -------------------------------------------------------------------------------------------


def _syncsafe(value: int) -> bytes:
    return bytes(((value >> shift) & 0x7F) for shift in (21, 14, 7, 0))


def _unsyncsafe(data: bytes) -> int:
    return (data[0] << 21) | (data[1] << 14) | (data[2] << 7) | data[3]


def id3_frames(fields: Sequence[tuple[str, str]], major: int) -> bytes:
    """``TXXX`` frames (ISO-8859-1 text) for an ID3v2 tag of version 2.``major``."""
    out = b""
    for key, value in fields:
        body = b"\x00" + _ascii(key.upper()) + b"\x00" + _ascii(value)
        size = _syncsafe(len(body)) if major == 4 else struct.pack(">I", len(body))
        out += b"TXXX" + size + b"\x00\x00" + body
    return out


def mark_mp3(head: bytes, fields: Sequence[tuple[str, str]]) -> tuple[bytes, int] | None:
    """Frames added to the stream's own ID3v2 tag, or a new tag in front; ``None``: need more bytes."""
    if len(head) < 10:
        return None
    if head[:3] == b"ID3" and head[3] in (3, 4) and head[5] == 0:
        major = head[3]
        frames = id3_frames(fields, major)
        size = _unsyncsafe(head[6:10]) + len(frames)
        return head[:6] + _syncsafe(size) + frames, 10
    frames = id3_frames(fields, 4)
    return b"ID3\x04\x00\x00" + _syncsafe(len(frames)) + frames, 0


# --- FLAC --------------------------------------------------------------------------------------------------

_VORBIS_COMMENT = 4


def _comment_block(vendor: bytes, comments: list[bytes], last: bool) -> bytes:
    body = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    body += b"".join(struct.pack("<I", len(comment)) + comment for comment in comments)
    return bytes([(0x80 if last else 0) | _VORBIS_COMMENT]) + len(body).to_bytes(3, "big") + body


def _parse_comments(body: bytes) -> tuple[bytes, list[bytes]]:
    (vendor_length,) = struct.unpack_from("<I", body, 0)
    vendor = body[4 : 4 + vendor_length]
    offset = 4 + vendor_length
    (count,) = struct.unpack_from("<I", body, offset)
    offset += 4
    comments = []
    for _ in range(count):
        (length,) = struct.unpack_from("<I", body, offset)
        comments.append(body[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return vendor, comments


def mark_flac(head: bytes, fields: Sequence[tuple[str, str]]) -> tuple[bytes, int] | None:
    """The metadata blocks with the marking in the (single) comment block; ``None``: need more bytes."""
    if len(head) < 4:
        return None
    if head[:4] != b"fLaC":
        raise ValueError("not a FLAC stream")
    ours = [_ascii(f"{key.upper()}={value}") for key, value in fields]
    blocks: list[tuple[int, bool, bytes]] = []
    offset = 4
    while True:
        if len(head) < offset + 4:
            return None
        kind, last = head[offset] & 0x7F, bool(head[offset] & 0x80)
        length = int.from_bytes(head[offset + 1 : offset + 4], "big")
        if len(head) < offset + 4 + length:
            return None
        blocks.append((kind, last, head[offset + 4 : offset + 4 + length]))
        offset += 4 + length
        if last:
            break
    out = b"fLaC"
    has_comments = any(kind == _VORBIS_COMMENT for kind, _, _ in blocks)
    for index, (kind, _, body) in enumerate(blocks):
        is_last = index == len(blocks) - 1
        if kind == _VORBIS_COMMENT:
            vendor, comments = _parse_comments(body)
            out += _comment_block(vendor, comments + ours, is_last)
            continue
        closes = is_last and (has_comments or index != 0)
        out += bytes([(0x80 if closes else 0) | kind]) + len(body).to_bytes(3, "big") + body
        if index == 0 and not has_comments:
            out += _comment_block(b"voiceguard", ours, is_last)
    return out, offset


_MARKERS = {"wav": mark_wav, "mp3": mark_mp3, "flac": mark_flac}


class ContainerMarker:
    """Marks one audio stream as it passes: buffers its head until the metadata can be written, then relays.

    ``outcome`` says what happened: ``marked``, ``unparsed`` (the head was not the announced format, or too
    large; forwarded untouched), or ``pending`` while the head is still incomplete.
    """

    __slots__ = ("_buffer", "_fields", "_format", "outcome")

    def __init__(self, container: str, fields: Sequence[tuple[str, str]]) -> None:
        if container not in _MARKERS:
            raise ValueError(f"cannot mark {container!r}; markable: {', '.join(_MARKERS)}")
        self._format = container
        self._fields = tuple(fields)
        self._buffer = b""
        self.outcome = "pending"

    def feed(self, data: bytes) -> bytes:
        """What can be sent on now (empty while the head is buffered)."""
        if self.outcome != "pending":
            return data
        self._buffer += data
        try:
            result = _MARKERS[self._format](self._buffer, self._fields)
        except (ValueError, struct.error, IndexError):
            return self._give_up()
        if result is None:
            return self._give_up() if len(self._buffer) > MAX_HEAD_BYTES else b""
        marked, consumed = result
        rest = self._buffer[consumed:]
        self._buffer = b""
        self.outcome = "marked"
        return marked + rest

    def end(self) -> bytes:
        """The stream ended: whatever is still buffered goes out as it came."""
        return self._give_up() if self.outcome == "pending" else b""

    def _give_up(self) -> bytes:
        out, self._buffer = self._buffer, b""
        self.outcome = "unparsed"
        return out
