"""Deepgram transcripts: where the text of a result lives, and how a guard's rewrite goes back on the wire.

Facts: REFERENCE-protocols.md §3. One recognised text sits in several places of a result: the transcript,
each word's ``word`` and ``punctuated_word``, and, in a pre-recorded result, paragraphs, sentences,
utterances, entities, summaries, search hits and topic/intent/sentiment segments. Every one of them is an
event a guard sees, so a redaction cannot miss a copy. The rules for writing a changed ``Transcript`` back
(also in the README, "Deepgram"):

1. A changed ``text`` is written to the transcript field.
2. Words follow the text. Where the guard changed the text of some ``Word``s (same number of words), those
   words' ``word`` and ``punctuated_word`` become the new text. Where it changed only the transcript text,
   the old words are aligned against the new text: words the new text keeps stay as they were, and each run
   of replaced words takes the replacement (surplus words are removed and the last kept one's ``end``
   stretched over them). So a rewritten transcript never leaves its raw words behind.
3. A transcript the guards held back leaves an empty transcript and no words.
4. When any transcript of a message comes back with a speaker removed (its ``speaker`` or a word's set to
   ``None``), every speaker label of that message goes: ``speaker`` and ``speaker_confidence`` of words,
   utterances and paragraphs, and the ``Speaker N:`` labels of ``paragraphs.transcript``.
5. Copies of the text (paragraphs, sentences, entities, ...) are ``Transcript`` events of their own with a
   ``stream`` naming the field (``"0.paragraphs"``, ``"0.entities"``), rewritten like any text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Final

from voiceguard.events import BiometricRequest, Event, Transcript, Word
from voiceguard.protocols import jsonspan
from voiceguard.protocols.jsonspan import DELETE, JsonPath
from voiceguard.protocols.jsonunit import JsonOrigin, JsonRender, payload

HAS_WORD: Final = 1
HAS_PUNCTUATED: Final = 2
HAS_END: Final = 4

_SPEAKER_LABEL = re.compile(r"Speaker \d+: ")
_SPEAKER_KEYS: Final = ("speaker", "speaker_confidence")


@dataclass(frozen=True, slots=True)
class WordsOrigin:
    """A transcript with words: the path of its text, of its words array, and which fields each word has."""

    message: int
    text: JsonPath
    words: JsonPath | None
    fields: tuple[int, ...] = ()


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _label(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, int | str) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(slots=True)
class TranscriptParser:
    """Collects the transcript events of one message, and where its speaker labels are."""

    message: int
    events: list[Event] = field(default_factory=list)
    speaker_paths: list[JsonPath] = field(default_factory=list)
    labelled_texts: list[tuple[JsonPath, str]] = field(default_factory=list)

    def text(self, value: object, path: JsonPath, stream: str) -> None:
        """A copy of recognised text at ``path`` (a sentence, an entity value, a summary)."""
        if isinstance(value, str) and value:
            self.events.append(Transcript(value, stream=stream, origin=JsonOrigin(self.message, path)))

    def speakers(self, item: dict[str, Any], path: JsonPath) -> None:
        self.speaker_paths.extend((*path, key) for key in _SPEAKER_KEYS if key in item)

    def words(self, value: object, path: JsonPath) -> tuple[tuple[Word, ...], tuple[int, ...]]:
        words: list[Word] = []
        fields: list[int] = []
        for index, item in enumerate(_list(value)):
            if not isinstance(item, dict):
                words.append(Word(""))
                fields.append(0)
                continue
            plain, punctuated = item.get("word"), item.get("punctuated_word")
            flags = (HAS_WORD if isinstance(plain, str) else 0) | (
                HAS_PUNCTUATED if isinstance(punctuated, str) else 0
            )
            if "end" in item:
                flags |= HAS_END
            text = punctuated if isinstance(punctuated, str) else plain if isinstance(plain, str) else ""
            self.speakers(item, (*path, index))
            words.append(
                Word(
                    text,
                    start=_number(item.get("start")),
                    end=_number(item.get("end")),
                    speaker=_label(item.get("speaker")),
                    confidence=_number(item.get("confidence")),
                )
            )
            fields.append(flags)
        return tuple(words), tuple(fields)

    def transcript(
        self,
        item: dict[str, Any],
        path: JsonPath,
        stream: str,
        *,
        is_final: bool = True,
        end_of_turn: bool = False,
        speaker: str | None = None,
    ) -> None:
        """A transcript with its words (an alternative, an utterance, a Flux turn)."""
        text = item.get("transcript")
        words_path = (*path, "words") if isinstance(item.get("words"), list) else None
        words, fields = self.words(item.get("words"), (*path, "words"))
        if not isinstance(text, str) or not (text or words):
            return
        if speaker is None:
            labels = {word.speaker for word in words}
            speaker = labels.pop() if len(labels) == 1 else None
        languages = _list(item.get("languages"))
        language = languages[0] if languages and isinstance(languages[0], str) else None
        origin = WordsOrigin(self.message, (*path, "transcript"), words_path, fields)
        self.events.append(
            Transcript(
                text,
                is_final=is_final,
                end_of_turn=end_of_turn,
                words=words,
                speaker=speaker,
                language=language,
                stream=stream,
                origin=origin,
            )
        )

    def alternative(
        self,
        item: dict[str, Any],
        path: JsonPath,
        stream: str,
        *,
        is_final: bool = True,
        end_of_turn: bool = False,
    ) -> None:
        """An alternative with everything derived from it (paragraphs, entities, summaries)."""
        self.transcript(item, path, stream, is_final=is_final, end_of_turn=end_of_turn)
        paragraphs = _dict(item.get("paragraphs"))
        if paragraphs:
            text_path = (*path, "paragraphs", "transcript")
            self.text(paragraphs.get("transcript"), text_path, f"{stream}.paragraphs")
            if isinstance(paragraphs.get("transcript"), str):
                self.labelled_texts.append((text_path, paragraphs["transcript"]))
            for p_index, paragraph in enumerate(_list(paragraphs.get("paragraphs"))):
                if not isinstance(paragraph, dict):
                    continue
                p_path = (*path, "paragraphs", "paragraphs", p_index)
                self.speakers(paragraph, p_path)
                for s_index, sentence in enumerate(_list(paragraph.get("sentences"))):
                    if isinstance(sentence, dict):
                        s_path = (*p_path, "sentences", s_index, "text")
                        self.text(sentence.get("text"), s_path, f"{stream}.sentences")
        self.entities(item.get("entities"), (*path, "entities"), f"{stream}.entities")
        for index, summary in enumerate(_list(item.get("summaries"))):
            if isinstance(summary, dict):
                self.text(
                    summary.get("summary"), (*path, "summaries", index, "summary"), f"{stream}.summaries"
                )

    def entities(self, value: object, path: JsonPath, stream: str) -> None:
        for index, entity in enumerate(_list(value)):
            if isinstance(entity, dict):
                for key in ("value", "raw_value"):
                    self.text(entity.get(key), (*path, index, key), stream)

    def segments(self, value: object, path: JsonPath, stream: str) -> None:
        """Topic, intent and sentiment segments each quote the text they classify."""
        for index, segment in enumerate(_list(_dict(value).get("segments"))):
            if isinstance(segment, dict):
                self.text(segment.get("text"), (*path, "segments", index, "text"), stream)


# --- rendering -------------------------------------------------------------------------------------------


def align_words(words: Sequence[Word], new_text: str) -> tuple[dict[int, str], dict[int, float], set[int]]:
    """Which old words take which new text: (new text by index, new end by index, indexes to delete)."""
    old = [word.text for word in words]
    new = new_text.split()
    texts: dict[int, str] = {}
    ends: dict[int, float] = {}
    deleted: set[int] = set()
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        tokens = new[j1:j2]
        if tag == "insert":
            if old:
                target = i1 - 1 if i1 > 0 else 0
                current = texts.get(target, old[target])
                joined = " ".join(tokens)
                texts[target] = f"{current} {joined}" if i1 > 0 else f"{joined} {current}"
            continue
        count = i2 - i1
        if not tokens:
            deleted.update(range(i1, i2))
            continue
        for offset in range(min(count, len(tokens)) - 1):
            texts[i1 + offset] = tokens[offset]
        last = i1 + min(count, len(tokens)) - 1
        texts[last] = " ".join(tokens[last - i1 :])
        if count > len(tokens):
            deleted.update(range(last + 1, i2))
            end = words[i2 - 1].end
            if end is not None:
                ends[last] = end
    return texts, ends, deleted


def lost_speaker(original: Transcript, replacement: Transcript) -> bool:
    """True when the guards removed a speaker label the original carried."""
    if original.speaker is not None and replacement.speaker is None:
        return True
    if len(original.words) == len(replacement.words):
        return any(
            old.speaker is not None and new.speaker is None
            for old, new in zip(original.words, replacement.words, strict=True)
        )
    return any(w.speaker for w in original.words) and not any(w.speaker for w in replacement.words)


def _word_edits(
    original: Transcript, replacement: Transcript, origin: WordsOrigin, edits: dict[JsonPath, object]
) -> None:
    if replacement.text != original.text:
        edits[origin.text] = replacement.text
    if origin.words is None:
        return
    texts: dict[int, str] = {}
    ends: dict[int, float] = {}
    deleted: set[int] = set()
    same_count = len(replacement.words) == len(original.words)
    if same_count and any(
        old.text != new.text for old, new in zip(original.words, replacement.words, strict=True)
    ):
        texts = {
            index: new.text
            for index, (old, new) in enumerate(zip(original.words, replacement.words, strict=True))
            if new.text != old.text
        }
    elif replacement.text != original.text:
        texts, ends, deleted = align_words(original.words, replacement.text)
    for index, text in texts.items():
        flags = origin.fields[index]
        if flags & HAS_WORD:
            edits[(*origin.words, index, "word")] = text
        if flags & HAS_PUNCTUATED:
            edits[(*origin.words, index, "punctuated_word")] = text
    for index, end in ends.items():
        if origin.fields[index] & HAS_END:
            edits[(*origin.words, index, "end")] = end
    for index in deleted:
        edits[(*origin.words, index)] = DELETE


def render_transcripts(
    raw: bytes,
    originals: Sequence[Event],
    out: Sequence[Event],
    parser: TranscriptParser,
) -> JsonRender:
    """Write the guards' output for a message parsed by ``parser`` back into its bytes ``raw``."""
    message = parser.message
    by_origin: dict[object, Event] = {}
    before: list[Event] = []
    after: list[Event] = []
    seen_own = False
    for event in out:
        origin = getattr(event, "origin", None)
        if isinstance(origin, JsonOrigin | WordsOrigin) and origin.message == message:
            by_origin[origin] = event
            seen_own = True
        elif any(event is original for original in originals):
            seen_own = True
        elif seen_own:
            after.append(event)
        else:
            before.append(event)
    edits: dict[JsonPath, object] = {}
    strip_speakers = False
    for original in originals:
        origin = getattr(original, "origin", None)
        if not isinstance(origin, JsonOrigin | WordsOrigin) or origin.message != message:
            continue
        replacement = by_origin.get(origin)
        if replacement is original:
            continue
        if isinstance(origin, WordsOrigin) and isinstance(original, Transcript):
            if not isinstance(replacement, Transcript):
                edits[origin.text] = ""
                if origin.words is not None:
                    edits[origin.words] = []
                continue
            strip_speakers = strip_speakers or lost_speaker(original, replacement)
            _word_edits(original, replacement, origin, edits)
        elif isinstance(origin, JsonOrigin) and isinstance(original, BiometricRequest):
            if not isinstance(replacement, BiometricRequest) or not replacement.enabled:
                edits[origin.path] = DELETE
        elif isinstance(origin, JsonOrigin):
            new = payload(replacement) if replacement is not None else ""
            if new is not None and new != payload(original):
                edits[origin.path] = new
            if isinstance(original, Transcript) and isinstance(replacement, Transcript):
                strip_speakers = strip_speakers or lost_speaker(original, replacement)
    if strip_speakers:
        for path in parser.speaker_paths:
            edits.setdefault(path, DELETE)
        for path, text in parser.labelled_texts:
            current = edits.get(path, text)
            if isinstance(current, str) and _SPEAKER_LABEL.search(current):
                edits[path] = _SPEAKER_LABEL.sub("", current)
    body = jsonspan.edit_many(raw, list(edits.items())) if edits else raw
    return JsonRender(body, before, after)
