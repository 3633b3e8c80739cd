"""The entity types voiceguard detects, and what a detection is.

Names follow Presidio's where Presidio has the type (``CREDIT_CARD``, ``US_SSN``, ``PHONE_NUMBER``,
``EMAIL_ADDRESS``, ``PERSON``, ``LOCATION``, ``IBAN_CODE``, ``US_BANK_NUMBER``), so policies written for
Presidio read the same here; ``CVV`` (card security code) is voiceguard's own. These names are what decisions
count by (``PolicyDecision.counts``) and what redaction labels show (``<CREDIT_CARD>``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

CREDIT_CARD: Final = "CREDIT_CARD"
CVV: Final = "CVV"
US_SSN: Final = "US_SSN"
US_BANK_NUMBER: Final = "US_BANK_NUMBER"
IBAN_CODE: Final = "IBAN_CODE"
PHONE_NUMBER: Final = "PHONE_NUMBER"
EMAIL_ADDRESS: Final = "EMAIL_ADDRESS"
PERSON: Final = "PERSON"
LOCATION: Final = "LOCATION"

PATTERN_ENTITIES: Final = frozenset(
    {CREDIT_CARD, CVV, US_SSN, US_BANK_NUMBER, IBAN_CODE, PHONE_NUMBER, EMAIL_ADDRESS, PERSON}
)
"""Found without a language model (``PERSON`` only from cues such as "my name is")."""
NER_ENTITIES: Final = frozenset({PERSON, LOCATION})
"""Found by the spaCy model's named-entity recogniser, when one is configured."""
ALL_ENTITIES: Final = PATTERN_ENTITIES | NER_ENTITIES

NUMERIC_ENTITIES: Final = frozenset({CREDIT_CARD, CVV, US_SSN, US_BANK_NUMBER, PHONE_NUMBER})
"""Types whose value is its digits: "4111 1111" and "four one one one" are the same value."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected entity: ``text[start:end]`` of the analysed text is of ``entity_type``."""

    entity_type: str
    start: int
    end: int
    score: float


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep non-overlapping findings, preferring the higher score, then the longer span; sorted by start.

    Redaction replaces spans, so two overlapping spans cannot both be applied; the one kept is the one most
    likely right, and since it covers the overlap, no character of either is left raw unless the loser
    reached further — in which case that loser's remainder is kept as its own finding.
    """
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for finding in ranked:
        pieces = [finding]
        for other in kept:
            pieces = [part for piece in pieces for part in _minus(piece, other)]
        kept.extend(piece for piece in pieces if piece.end > piece.start)
    return sorted(kept, key=lambda f: f.start)


def _minus(piece: Finding, other: Finding) -> list[Finding]:
    if piece.end <= other.start or piece.start >= other.end:
        return [piece]
    parts = []
    if piece.start < other.start:
        parts.append(Finding(piece.entity_type, piece.start, other.start, piece.score))
    if piece.end > other.end:
        parts.append(Finding(piece.entity_type, other.end, piece.end, piece.score))
    return parts
