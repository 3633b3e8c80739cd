"""Character alignments (ElevenLabs): keeping per-character timings consistent when a guard changes text.

A TTS alignment repeats the spoken text one character per array element, with a start and an end (or a
duration) for each. A guard that rewrites the text must rewrite these arrays too, or the redacted text
comes back to the client one character at a time. ``realign`` maps the old characters onto the new text:
characters that did not change keep their timings; a replaced run is spread evenly over the time its
original occupied; inserted characters (text a guard released from an earlier chunk) get zero duration at
the point they were inserted; deleted characters disappear. The arrays stay equally long and ordered, so
a client that zips them keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher


@dataclass(frozen=True, slots=True)
class Alignment:
    characters: list[str]
    starts: list[float]
    ends: list[float]

    @property
    def text(self) -> str:
        return "".join(self.characters)


def valid(characters: object, starts: object, ends: object) -> bool:
    """The three arrays are what an alignment must be: strings and numbers, equally long."""
    return (
        isinstance(characters, list)
        and isinstance(starts, list)
        and isinstance(ends, list)
        and len(characters) == len(starts) == len(ends)
        and all(isinstance(char, str) for char in characters)
        and all(isinstance(t, int | float) and not isinstance(t, bool) for t in (*starts, *ends))
    )


def _spread(start: float, end: float, count: int) -> list[tuple[float, float]]:
    step = (end - start) / count if count else 0.0
    return [(start + step * i, start + step * (i + 1)) for i in range(count)]


def realign(old: Alignment, new_text: str) -> Alignment:
    """The alignment of ``new_text``, derived from the alignment of the text it replaces."""
    new_chars = list(new_text)
    chars: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    matcher = SequenceMatcher(None, old.characters, new_chars, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            chars.extend(old.characters[i1:i2])
            starts.extend(old.starts[i1:i2])
            ends.extend(old.ends[i1:i2])
        elif tag == "replace":
            for char, (start, end) in zip(
                new_chars[j1:j2], _spread(old.starts[i1], old.ends[i2 - 1], j2 - j1), strict=True
            ):
                chars.append(char)
                starts.append(start)
                ends.append(end)
        elif tag == "insert":
            at = old.ends[i1 - 1] if i1 > 0 else (old.starts[0] if old.starts else 0.0)
            for char in new_chars[j1:j2]:
                chars.append(char)
                starts.append(at)
                ends.append(at)
    return Alignment(chars, starts, ends)


def from_durations(characters: list[str], starts: Sequence[float], durations: Sequence[float]) -> Alignment:
    """The WebSocket form (``charStartTimesMs`` / ``charDurationsMs``) as starts and ends."""
    return Alignment(characters, list(starts), [s + d for s, d in zip(starts, durations, strict=True)])


def durations(alignment: Alignment) -> list[float]:
    return [end - start for start, end in zip(alignment.starts, alignment.ends, strict=True)]


def like(values: Sequence[float], template: Sequence[object]) -> list[float] | list[int]:
    """Numbers written the way the vendor wrote them (integer milliseconds stay integers)."""
    if template and all(isinstance(t, int) for t in template):
        return [round(v) for v in values]
    return [round(v, 6) for v in values]
