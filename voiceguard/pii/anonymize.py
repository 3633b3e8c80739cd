"""Replacing findings in text, through Presidio's anonymizer, and the record redactor built on it.

Findings arrive resolved (no overlaps) from the engine; each is replaced by what ``replacement`` returns
for its type and original value: a label (``<CREDIT_CARD>``) or a call's pseudonym (``<CREDIT_CARD_1>``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

from voiceguard.pii.engine import AnalysisFailed, PiiEngine
from voiceguard.pii.entities import Finding
from voiceguard.redaction import MaskEverything

Replacement = Callable[[str, str], str]
"""``replacement(entity_type, original_value) -> text to put in its place``."""

MASK: Final = MaskEverything()


def label(entity_type: str, value: str = "") -> str:
    return f"<{entity_type}>"


class Replacer:
    """One Presidio anonymizer, shared by every call (it keeps no per-text state)."""

    def __init__(self) -> None:
        self._engine = AnonymizerEngine()  # type: ignore[no-untyped-call]

    def replace(self, text: str, findings: Sequence[Finding], replacement: Replacement) -> str:
        if not findings:
            return text
        types = {finding.entity_type for finding in findings}
        operators = {
            entity_type: OperatorConfig("custom", {"lambda": _bind(replacement, entity_type)})
            for entity_type in types
        }
        results = [RecognizerResult(f.entity_type, f.start, f.end, f.score) for f in findings]
        return self._engine.anonymize(
            text, results, operators=operators, merge_entities_with_spaces=False
        ).text


def _bind(replacement: Replacement, entity_type: str) -> Callable[[str], str]:
    return lambda value: replacement(entity_type, value)


class PiiRecordRedactor:
    """The ``RecordRedactor`` for everything voiceguard records: every PII type becomes its label.

    Fails closed: if analysis fails or times out, the whole text is masked (``MaskEverything``); the engine
    has already counted and logged the failure, without the text.
    """

    def __init__(self, engine: PiiEngine, replacer: Replacer | None = None) -> None:
        self.engine = engine
        self._replacer = replacer or Replacer()

    def redact(self, text: str) -> str:
        if not text:
            return text
        try:
            findings = self.engine.analyze(text, self.engine.supported)
        except AnalysisFailed:
            return MASK.redact(text)
        return self._replacer.replace(text, findings, label)
