"""Digit sequences: which are card numbers, security codes, SSNs, phone or bank numbers, and which are not.

This is where voiceguard goes past Presidio for speech (REFERENCE-compliance.md §2):

- a sequence is read through the separators speech-to-text puts between spoken digits ("4 1 1 1, 1 1 1 1"),
  so spoken, grouped and fused numbers are one thing;
- card ranges include Mastercard 2221-2720 and 13-19 digit PANs; any run of 13 or more digits is treated as
  a card even when the Luhn check fails, because STT fuses neighbouring digits into card numbers and mishears
  single digits (LiveKit #6627 found that gating on Luhn leaks exactly those);
- context decides the ambiguous lengths: the nearest cue before the number ("card", "security code",
  "social", "phone", "account", and decoys such as "order", "zip", "confirmation") — cues may come from the
  agent's question or the previous transcript, which the rolling window puts in front of the text;
- amounts ("$1,250", "40 dollars"), dates ("2024-05-06") and times are never entities.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from voiceguard.pii.entities import CREDIT_CARD, CVV, PHONE_NUMBER, US_BANK_NUMBER, US_SSN, Finding

SEQUENCE: Final = re.compile(r"(?<![\w+(])(?:\+ ?)?\(?\d(?:(?: {1,2}| ?[-.,] ?| ?\) ?| \()?\d)*(?![\w])")
"""Digits with at most one separator (space, dash, dot, comma, parenthesis) between each, optionally after
a ``+``: "4111 1111", "4 1 1 1, 1 1 1 1", "(415) 555-0132", "+44 20 7946 0958"."""

_CUES: Final = {
    "card": (
        "card", "credit", "debit", "visa", "mastercard", "master card", "amex", "american express",
        "discover", "card number", "long number", "pan",
    ),
    "cvv": (
        "cvv", "cvc", "cvv2", "csc", "cid", "security code", "card code", "code on the back",
        "digits on the back", "three digit code", "3 digit code", "four digit code", "4 digit code",
        "card verification", "verification value",
    ),
    "ssn": ("social security", "social", "ssn", "socials"),
    "phone": (
        "phone", "cell", "mobile", "telephone", "call me", "call back", "callback", "reach me", "text me",
        "area code", "landline", "whatsapp",
    ),
    "bank": (
        "account", "acct", "routing", "bank", "checking", "savings", "aba", "sort code", "iban", "swift",
    ),
    "expiry": ("expiry", "expiration", "expires", "expire", "exp", "valid thru", "valid through"),
    "decoy": (
        "order", "confirmation", "tracking", "invoice", "reference", "ref", "ticket", "case", "claim",
        "booking", "reservation", "flight", "room", "zip", "zipcode", "postal", "postcode", "apartment",
        "apt", "suite", "unit", "model", "serial", "version", "year", "years", "floor", "gate", "seat",
        "item", "sku", "part", "quantity", "page", "step", "episode", "chapter", "minutes", "seconds",
    ),
}  # fmt: skip
_CUE_OF: Final = {phrase: cue for cue, phrases in _CUES.items() for phrase in phrases}
_CUE_PATTERN: Final = re.compile(
    r"\b(?:" + "|".join(re.escape(p) for p in sorted(_CUE_OF, key=len, reverse=True)) + r")\b"
)
_MONEY_BEFORE: Final = re.compile(r"[$€£¥]\s?$")
_MONEY_AFTER: Final = re.compile(r"^\s?(?:%|percent|dollars?|bucks|euros?|pounds?|cents?|usd|eur|gbp)\b")
_DATE_SHAPES: Final = frozenset({(4, 2, 2), (2, 2, 4), (1, 2, 4), (2, 1, 4), (1, 1, 4), (2, 2, 2)})
CUE_LOOKBACK_WORDS: Final = 8
CUE_LOOKAHEAD_WORDS: Final = 4


@dataclass(frozen=True, slots=True)
class DigitSequence:
    """A match of ``SEQUENCE``: its span, digits, group lengths and the separators between groups."""

    start: int
    end: int
    digits: str
    groups: tuple[int, ...]
    separators: str
    plus: bool


def sequences(text: str) -> Iterator[DigitSequence]:
    for match in SEQUENCE.finditer(text):
        raw = match.group()
        plus = raw.startswith("+")
        parts = re.split(r"[^\d]+", raw.lstrip("+ ("))
        groups = tuple(len(part) for part in parts if part)
        separators = "".join(ch for ch in raw.lstrip("+ (") if not ch.isdigit() and ch not in " ()")
        digits = "".join(ch for ch in raw if ch.isdigit())
        yield DigitSequence(match.start(), match.end(), digits, groups, separators, plus)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def in_card_range(digits: str) -> bool:
    """Issuer ranges of Visa, Mastercard (51-55 and 2221-2720), Amex, Discover, JCB, Diners, UnionPay,
    Maestro; lengths 13-19."""
    if not 13 <= len(digits) <= 19:
        return False
    first, two, four = digits[0], int(digits[:2]), int(digits[:4])
    return (
        first == "4"
        or 51 <= two <= 55
        or 2221 <= four <= 2720
        or two in (34, 37, 36, 38, 39, 30, 35)
        or first == "6"
        or two in (50, 56, 57, 58)
        or first == "8"  # UnionPay 81
    )


def ssn_valid(digits: str) -> bool:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return (
        len(digits) == 9
        and area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
    )


def nanp_valid(digits: str) -> bool:
    """A ten-digit North American number: area code and exchange both start with 2-9."""
    return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789"


def cue_for(text: str, start: int, end: int) -> str | None:
    """The nearest cue before the sequence (within a few words), else the nearest one just after it."""
    before = text[max(0, start - 120) : start].lower()
    words_before = before.split()
    window = " ".join(words_before[-CUE_LOOKBACK_WORDS:])
    found = None
    for match in _CUE_PATTERN.finditer(window):
        found = match.group()
    if found is not None:
        return _CUE_OF[found]
    after = " ".join(text[end : end + 80].lower().split()[:CUE_LOOKAHEAD_WORDS])
    following = _CUE_PATTERN.search(after)
    return _CUE_OF[following.group()] if following else None


def _is_money(text: str, sequence: DigitSequence) -> bool:
    return bool(
        _MONEY_BEFORE.search(text[max(0, sequence.start - 2) : sequence.start])
        or _MONEY_AFTER.search(text[sequence.end : sequence.end + 10].lower())
    )


def _is_date(sequence: DigitSequence) -> bool:
    return sequence.groups in _DATE_SHAPES and sequence.separators in ("--", "..", "//") and not sequence.plus


def classify(sequence: DigitSequence, cue: str | None) -> tuple[str, float] | None:
    """The entity a digit sequence is, with a score, or ``None``. Order matters: longest evidence first."""
    digits, count = sequence.digits, len(sequence.digits)
    if sequence.plus and 8 <= count <= 15:
        return PHONE_NUMBER, 0.85
    if count >= 13:
        if cue == "bank" and count <= 17 and not (in_card_range(digits) and luhn_valid(digits)):
            return US_BANK_NUMBER, 0.85
        if in_card_range(digits) and luhn_valid(digits):
            return CREDIT_CARD, 1.0
        if cue == "decoy":
            return None
        return CREDIT_CARD, 0.9 if cue == "card" else 0.7
    if cue == "cvv" and 3 <= count <= 4:
        return CVV, 0.9
    if cue == "ssn" and count == 9:
        return US_SSN, 0.95 if ssn_valid(digits) else 0.7
    if cue == "ssn" and 3 <= count <= 8:
        return US_SSN, 0.7  # part of a number split across results, or its last four
    if cue == "bank" and 6 <= count <= 17:
        return US_BANK_NUMBER, 0.85
    if cue == "card" and 6 <= count <= 12:
        return CREDIT_CARD, 0.7  # the first part of a card split across two results
    if cue == "phone" and 7 <= count <= 12:
        return PHONE_NUMBER, 0.85
    if cue in ("decoy", "expiry", "cvv"):
        return None
    if sequence.groups == (3, 2, 4) and sequence.separators in ("--", "") and ssn_valid(digits):
        return US_SSN, 0.85
    if count == 10 and nanp_valid(digits):
        return PHONE_NUMBER, 0.75
    if count == 11 and digits[0] == "1" and nanp_valid(digits[1:]):
        return PHONE_NUMBER, 0.75
    if count == 11 and digits[0] == "0" and digits[1] != "0":
        return PHONE_NUMBER, 0.6
    if count in (11, 12) and _card_prefix(digits):
        return CREDIT_CARD, 0.6  # most likely the first part of a card cut by the end of an STT result
    return None


def _card_prefix(digits: str) -> bool:
    """Starts like a card: no other 11-12 digit number is common in speech (phones were ruled out above)."""
    return in_card_range(digits + "0" * (16 - len(digits)))


def find_numbers(text: str, wanted: frozenset[str]) -> list[Finding]:
    """Every digit-sequence entity of a wanted type in (normalised) ``text``."""
    findings = []
    for sequence in sequences(text):
        if len(sequence.digits) < 3 or _is_date(sequence) or _is_money(text, sequence):
            continue
        verdict = classify(sequence, cue_for(text, sequence.start, sequence.end))
        if verdict is not None and verdict[0] in wanted:
            findings.append(Finding(verdict[0], sequence.start, sequence.end, verdict[1]))
    return findings
