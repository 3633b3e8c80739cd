"""Redacting a transcript's words (with their timings) the way its text was redacted.

STT results carry the text and, separately, each word with its times; a JSON result repeats the digits in
its ``words`` array. When the guard changes a transcript's text, the words that fall inside a finding get
the finding's label too, so the card number is not left in the word list. Words are located in the text in
order; a word that cannot be located while something in the text was redacted is masked — it might be
the one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

from voiceguard.events import Word
from voiceguard.pii.entities import Finding
from voiceguard.redaction import MaskEverything

MAX_SKIP_CHARS: Final = 48
_EDGES: Final = ".,?!;:\"'()"
_MASK: Final = MaskEverything()


def locate(words: Sequence[Word], text: str) -> list[tuple[int, int] | None]:
    """Where each word sits in ``text`` (searched in order, case-insensitively), or ``None``."""
    lower = text.lower()
    cursor = 0
    spans: list[tuple[int, int] | None] = []
    for word in words:
        token = word.text.strip().lower().strip(_EDGES)
        position = lower.find(token, cursor) if token else -1
        if position < 0 or position - cursor > MAX_SKIP_CHARS:
            spans.append(None)
            continue
        spans.append((position, position + len(token)))
        cursor = position + len(token)
    return spans


def redact_words(words: Sequence[Word], text: str, findings: Sequence[Finding]) -> tuple[Word, ...]:
    """``words`` with every word inside a finding replaced by its label (``<CREDIT_CARD>``)."""
    if not findings:
        return tuple(words)
    out = []
    for word, span in zip(words, locate(words, text), strict=True):
        if span is None:
            out.append(dataclasses.replace(word, text=_MASK.redact(word.text)))
            continue
        hit = next((f for f in findings if f.start < span[1] and span[0] < f.end), None)
        out.append(dataclasses.replace(word, text=f"<{hit.entity_type}>") if hit is not None else word)
    return tuple(out)
