"""What ElevenLabs' REST and WebSocket replies share: base64 audio and character alignments.

An alignment repeats the spoken text one character per array element (REST: ``characters`` with start and
end seconds; WebSocket: ``chars`` with start and duration milliseconds). It becomes a text event whose
origin names its three arrays, so a guard that rewrites the text gets the arrays rewritten consistently
(``alignment.realign``). A guard that holds text empties it from this chunk's arrays; text a guard
releases later is written into the next chunk's alignment at that chunk's time, or, when no chunk of that
stream follows, as an extra message carrying only the alignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from voiceguard.events import AgentText, AudioChunk, Direction, Event, TextDelta, WireAnomaly
from voiceguard.protocols import alignment, jsonspan
from voiceguard.protocols.alignment import Alignment
from voiceguard.protocols.audioformat import AudioFormat
from voiceguard.protocols.jsonspan import JsonPath
from voiceguard.protocols.wirejson import as_dict, b64_size, loads

PROVIDER: Final = "elevenlabs"

REST_KEYS: Final = ("characters", "character_start_times_seconds", "character_end_times_seconds")
WS_KEYS: Final = ("chars", "charStartTimesMs", "charDurationsMs")


@dataclass(frozen=True, slots=True)
class AlignmentOrigin:
    """The alignment object at ``path`` in message ``message``; ``keys`` name its three arrays."""

    message: int
    path: JsonPath
    keys: tuple[str, str, str]


def read_alignment(value: object, keys: tuple[str, str, str]) -> Alignment | None:
    """The alignment in ``value``, or ``None`` when its arrays are missing or inconsistent."""
    body = as_dict(value)
    chars, starts, third = (body.get(key) for key in keys)
    if not alignment.valid(chars, starts, third):
        return None
    assert isinstance(chars, list) and isinstance(starts, list) and isinstance(third, list)
    if keys == WS_KEYS:
        return alignment.from_durations(chars, starts, third)
    return Alignment(chars, starts, third)


def audio_chunk(n_bytes: int, fmt: AudioFormat) -> AudioChunk:
    return AudioChunk(Direction.TO_CLIENT, n_bytes, fmt.seconds(n_bytes), fmt.encoding, fmt.sample_rate)


def audio_event(value: object, fmt: AudioFormat) -> Event:
    """Base64 audio in a JSON message: its metadata, or an anomaly when it is not base64."""
    size = b64_size(value)
    if size is None:
        return WireAnomaly("invalid_base64")
    return audio_chunk(size, fmt)


def alignment_text(value: object, keys: tuple[str, str, str]) -> str | None:
    """The text an alignment spells, checked only as far as reading it needs (the hot path);
    ``read_alignment`` validates the timings when a rewrite needs them."""
    body = as_dict(value)
    chars, starts, third = (body.get(key) for key in keys)
    if not isinstance(chars, list) or not isinstance(starts, list) or not isinstance(third, list):
        return None
    if not len(chars) == len(starts) == len(third):
        return None
    try:
        return "".join(chars)
    except TypeError:
        return None


def alignment_events(
    body: dict[str, Any], fields: Sequence[tuple[str, str]], keys: tuple[str, str, str], message: int
) -> list[Event]:
    """One text event per present alignment field (``fields``: (JSON key, stream name))."""
    events: list[Event] = []
    for key, stream in fields:
        value = body.get(key)
        if value is None:
            continue
        text = alignment_text(value, keys)
        if text is None:
            events.append(WireAnomaly("bad_alignment"))
        else:
            events.append(TextDelta(text, stream, AlignmentOrigin(message, (key,), keys)))
    return events


def _arrays(value: Alignment, keys: tuple[str, str, str], template: dict[str, Any]) -> list[list[Any]]:
    third = alignment.durations(value) if keys == WS_KEYS else value.ends
    return [
        value.characters,
        alignment.like(value.starts, template[keys[1]]),
        alignment.like(third, template[keys[2]]),
    ]


def _array_edits(path: JsonPath, before: list[Any], after: list[Any]) -> list[tuple[JsonPath, object]]:
    """Edits turning one array into another: element by element when the length holds (every other byte
    stays as the vendor wrote it), the whole array when it changed."""
    if len(before) != len(after):
        return [(path, after)]
    pairs = enumerate(zip(before, after, strict=True))
    return [((*path, index), new) for index, (old, new) in pairs if old != new]


@dataclass(slots=True)
class AlignmentRender:
    raw: bytes
    leftover: dict[str, str]
    """Injected text of streams that have no alignment in this message: written by the caller."""


def render_alignments(
    raw: bytes, originals: Sequence[Event], out: Sequence[Event], message: int
) -> AlignmentRender:
    """Splice rewritten, held and released alignment text back into the message ``raw``."""
    own: dict[str, AlignmentOrigin] = {}
    for event in originals:
        if isinstance(event, TextDelta | AgentText) and isinstance(event.origin, AlignmentOrigin):
            own[event.stream] = event.origin
    texts: dict[str, list[str]] = {}
    for event in out:
        if not isinstance(event, TextDelta | AgentText):
            continue
        origin = event.origin
        if isinstance(origin, AlignmentOrigin) and origin.message != message:
            continue
        texts.setdefault(event.stream, []).append(event.text)
    body = loads(raw)
    leftover = {stream: "".join(pieces) for stream, pieces in texts.items() if stream not in own}
    if not isinstance(body, dict):
        return AlignmentRender(raw, leftover)
    edits: list[tuple[JsonPath, object]] = []
    for event in originals:
        if not isinstance(event, TextDelta | AgentText) or not isinstance(event.origin, AlignmentOrigin):
            continue
        origin = event.origin
        new_text = "".join(texts.get(event.stream, []))
        if new_text == event.text:
            continue
        template = as_dict(body.get(str(origin.path[0])))
        old = read_alignment(template, origin.keys)
        if old is None:
            # timings that are not numbers cannot be realigned: drop the arrays rather than leak the text
            edits.extend(((*origin.path, key), []) for key in origin.keys)
            continue
        arrays = _arrays(alignment.realign(old, new_text), origin.keys, template)
        for key, value in zip(origin.keys, arrays, strict=True):
            edits.extend(_array_edits((*origin.path, key), template[key], value))
    return AlignmentRender(jsonspan.edit(raw, edits) if edits else raw, leftover)


def alignment_only(
    text: str, at: float, keys: tuple[str, str, str], audio_key: str, alignment_key: str
) -> bytes:
    """A message carrying only released alignment text (zero durations at ``at``), no audio."""
    zeros = [0 if keys == WS_KEYS else at] * len(text)
    starts = [round(at) if keys == WS_KEYS else at] * len(text)
    body = {audio_key: "", alignment_key: dict(zip(keys, (list(text), starts, zeros), strict=True))}
    return orjson.dumps(body)


def last_time(value: object, keys: tuple[str, str, str]) -> float | None:
    """Where an alignment ends (seconds or milliseconds, as written), for placing released text."""
    body = as_dict(value)
    starts, third = body.get(keys[1]), body.get(keys[2])
    if not isinstance(starts, list) or not isinstance(third, list) or not starts or not third:
        return None
    last_start, last_third = starts[-1], third[-1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (last_start, last_third)):
        return None
    return float(last_start + last_third) if keys == WS_KEYS else float(last_third)
