"""Streams: release text as soon as it is decided, hold back only what may still become an entity.

A card number streams in as "41", "11 ", "1111"; a placeholder as "<CRED", "IT_CARD_1>". Redacting delta
by delta misses both, and buffering whole responses (what LiteLLM had to fix, REFERENCE-compliance.md §2)
ruins time-to-first-token. ``StreamScanner`` keeps a pending buffer and releases everything up to the *open
tail*: the trailing digits, number words, separators and e-mail-like tokens that a later delta could still
extend, plus a last token that may be incomplete ("fo" → "four"). When names must be acted upon, the named-
entity recogniser needs whole sentences, so text is released at sentence boundaries instead. Either way a
release is forced once ``hold_limit`` characters are pending, so no stream is ever buffered whole.

``PlaceholderRestorer`` does the same for pseudonyms on their way back: it holds a trailing ``<CRED…`` until
it is complete, then puts the real value in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from voiceguard.pii.engine import AnalysisFailed
from voiceguard.pii.entities import Finding
from voiceguard.pii.spoken import EMAIL_CONNECTORS, SPOKEN_WORDS
from voiceguard.pii.vault import MAX_PLACEHOLDER_CHARS, PseudonymVault

CONTEXT_CHARS: Final = 160
_PREFIXES: Final = frozenset(
    word[:size] for word in SPOKEN_WORDS | frozenset(EMAIL_CONNECTORS) for size in range(1, len(word) + 1)
)
_CONNECTORS: Final = frozenset(EMAIL_CONNECTORS) | {"at"}
_TOKEN: Final = re.compile(r"\S+")
_EDGE_PUNCTUATION: Final = "\"'`{}[]()<>,;:!?"
_NUMERIC: Final = re.compile(r"^\+?[\d][\d\-.,/]*$|^[-.,]$")
_EMAILISH: Final = re.compile(r"@|^[\w.+-]*\.[\w-]+$")
_SENTENCE_END: Final = re.compile(r"[.!?…][\"')\]]*\s+|\n")
_PLACEHOLDER_PREFIX: Final = re.compile(r"<[A-Z0-9_]*")

Analyze = Callable[[str, str], list[Finding]]
"""``analyze(text, prefix)``: findings in ``text`` (raises ``AnalysisFailed``)."""


def _core(token: str) -> str:
    return token.strip(_EDGE_PUNCTUATION)


def _extends(token: str) -> bool:
    """A token that belongs to a number or an e-mail address still being written."""
    core = _core(token)
    if not core:
        return token.strip() in (",", "-", ".")
    lower = core.lower()
    return (
        bool(_NUMERIC.match(core))
        or lower in SPOKEN_WORDS
        or lower in _CONNECTORS
        or bool(_EMAILISH.search(core))
    )


def _may_grow(token: str) -> bool:
    """The last token, with no space after it yet: may the next delta turn it into part of an entity?"""
    core = _core(token)
    return _extends(token) or (core.lower() in _PREFIXES) or core.endswith((".", "-", "_")) or not core


def open_tail_start(text: str) -> int:
    """Where the part of ``text`` that a later delta could still extend into an entity begins.

    Walking back from the end: a last token with no space after it is open if it may grow; before it, any
    digits, number words and separators, and a plain word right before an e-mail connector ("smith at").
    """
    start = len(text)
    right_is_connector = False
    for position, match in enumerate(reversed(list(_TOKEN.finditer(text)))):
        token = match.group()
        core = _core(token).lower()
        if position == 0 and match.end() == len(text):
            is_open = _may_grow(token)
        else:
            is_open = _extends(token) or (right_is_connector and core.isalnum())
        if not is_open:
            break
        start = match.start()
        right_is_connector = core in _CONNECTORS
    if not any(ch.isalnum() for ch in text[start:]):
        return len(text)  # a lone separator cannot become an entity by itself
    return start


@dataclass(slots=True)
class Released:
    """Text a scanner lets go, with what was found in it; ``failed`` names why analysis failed (mask it)."""

    text: str
    findings: list[Finding] = field(default_factory=list)
    failed: str | None = None


class StreamScanner:
    """Decides when pending stream text may be released, and analyses it on the way out."""

    __slots__ = ("_analyze", "context", "hold_limit", "pending", "sentences")

    def __init__(self, analyze: Analyze, *, hold_limit: int, sentences: bool) -> None:
        self._analyze = analyze
        self.hold_limit = hold_limit
        self.sentences = sentences
        self.pending = ""
        self.context = ""

    def feed(self, text: str) -> Released | None:
        self.pending += text
        return self._release(final=False)

    def flush(self) -> Released | None:
        return self._release(final=True)

    def _cut(self, pending: str) -> int:
        cut = len(pending)
        if self.sentences:
            ends = [match.end() for match in _SENTENCE_END.finditer(pending)]
            if ends:
                cut = ends[-1]
            elif len(pending) < self.hold_limit:
                return 0
        tail = open_tail_start(pending)
        if len(pending) - tail < self.hold_limit:
            cut = min(cut, tail)
        return cut

    def _release(self, *, final: bool) -> Released | None:
        pending = self.pending
        if not pending:
            return None
        cut = len(pending) if final else self._cut(pending)
        if cut <= 0:
            return None
        try:
            findings = self._analyze(pending, self.context)
        except AnalysisFailed as failure:
            self._advance(pending, cut)
            return Released(pending[:cut], failed=failure.reason)
        if not final:
            for finding in findings:
                if finding.start < cut < finding.end:
                    cut = finding.start
            if cut <= 0 and len(pending) < self.hold_limit:
                return None
            cut = cut if cut > 0 else len(pending)
        self._advance(pending, cut)
        return Released(pending[:cut], [f for f in findings if f.end <= cut])

    def _advance(self, pending: str, cut: int) -> None:
        self.pending = pending[cut:]
        self.context = (self.context + pending[:cut])[-CONTEXT_CHARS:]


class PlaceholderRestorer:
    """Restores a call's placeholders in a stream, holding back a trailing partial one."""

    __slots__ = ("_escape", "_vault", "held")

    def __init__(self, vault: PseudonymVault, escape: Callable[[str], str] | None = None) -> None:
        self._vault = vault
        self._escape = escape
        self.held = ""

    def feed(self, text: str) -> tuple[str, dict[str, int]]:
        buffer = self.held + text
        self.held = ""
        if not len(self._vault):
            return buffer, {}
        opening = buffer.rfind("<")
        partial = opening >= 0 and len(buffer) - opening < MAX_PLACEHOLDER_CHARS
        if partial and _PLACEHOLDER_PREFIX.fullmatch(buffer, opening):
            self.held = buffer[opening:]
            buffer = buffer[:opening]
        return self._vault.restore(buffer, self._escape)

    def flush(self) -> tuple[str, dict[str, int]]:
        buffer, self.held = self.held, ""
        return self._vault.restore(buffer, self._escape)
