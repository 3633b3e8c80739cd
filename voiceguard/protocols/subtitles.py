"""SubRip (``srt``) and WebVTT (``vtt``) transcripts: the text of each cue and where it sits in the bytes.

A guard rewrites the words of a cue; its number, timing line and every other cue stay byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

_BLOCK: Final = re.compile(rb"(?:\r?\n){2,}")
_LINE: Final = re.compile(rb"\r?\n")
_TIME: Final = re.compile(rb"(?:(\d{1,6}):)?(\d{1,2}):(\d{2})[,.](\d{3})")


@dataclass(frozen=True, slots=True)
class Cue:
    """One cue: its text (lines joined by ``\\n``), its times in seconds, and the byte span of its text."""

    text: str
    start_s: float | None
    end_s: float | None
    span_start: int
    span_end: int


def looks_like_subtitles(body: bytes) -> bool:
    head = body.lstrip()[:256]
    return head.startswith(b"WEBVTT") or b"-->" in head


def _seconds(value: bytes) -> float | None:
    match = _TIME.search(value)
    if match is None:
        return None
    hours, minutes, seconds, millis = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def cues(body: bytes) -> list[Cue] | None:
    """The cues of an srt or vtt body; ``None`` when it is not valid UTF-8."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    found: list[Cue] = []
    position = 0
    for separator in [*_BLOCK.finditer(body), None]:
        block_end = separator.start() if separator is not None else len(body)
        _cue(body, position, block_end, found)
        position = separator.end() if separator is not None else len(body)
    return found


def _cue(body: bytes, start: int, end: int, found: list[Cue]) -> None:
    offset = start
    timing: bytes | None = None
    for line in _LINE.finditer(body, start, end):
        if timing is None and b"-->" in body[offset : line.start()]:
            timing = body[offset : line.start()]
            offset = line.end()
            break
        offset = line.end()
    else:
        return
    text_end = end
    while text_end > offset and body[text_end - 1 : text_end] in (b"\n", b"\r"):
        text_end -= 1
    if text_end <= offset:
        return
    first, _arrow, second = timing.partition(b"-->")
    text = _LINE.sub(b"\n", body[offset:text_end]).decode("utf-8")
    found.append(Cue(text, _seconds(first), _seconds(second), offset, text_end))


def replace(body: bytes, edits: Sequence[tuple[Cue, str]]) -> bytes:
    """``body`` with the text of the given cues replaced, in the file's own line endings."""
    newline = b"\r\n" if b"\r\n" in body else b"\n"
    out = bytearray()
    cursor = 0
    for cue, text in sorted(edits, key=lambda edit: edit[0].span_start):
        out += body[cursor : cue.span_start]
        out += text.replace("\n", newline.decode()).encode("utf-8")
        cursor = cue.span_end
    out += body[cursor:]
    return bytes(out)
