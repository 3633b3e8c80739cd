"""The recognisers voiceguard registers with Presidio, and the NLP engines they run on.

Presidio orchestrates (``AnalyzerEngine``: recognisers, score thresholds, de-duplication); these are what
it lacks for speech: digit sequences read the way STT writes them (``numbers.py``), names from spoken cues
("my name is john"), an e-mail recogniser that never touches the network, and a spaCy engine that runs only
the named-entity recogniser (the rest of the pipeline costs time and finds nothing voiceguard redacts).
"""

from __future__ import annotations

import re
from typing import Any, Final

import spacy
import tldextract
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from voiceguard.pii.entities import (
    CREDIT_CARD,
    CVV,
    LOCATION,
    PERSON,
    PHONE_NUMBER,
    US_BANK_NUMBER,
    US_SSN,
)
from voiceguard.pii.numbers import find_numbers

NER_LABELS: Final = {"PERSON": PERSON, "PER": PERSON, "GPE": LOCATION, "LOC": LOCATION, "FAC": LOCATION}
"""spaCy labels voiceguard keeps, and the entity each becomes; every other label is ignored."""
IGNORED_NER_LABELS: Final = (  # noqa: SIM905
    "CARDINAL DATE EVENT LANGUAGE LAW MONEY NORP ORDINAL ORG PERCENT PRODUCT QUANTITY TIME WORK_OF_ART MISC"
).split()


class ModelNotInstalled(Exception):
    """The configured spaCy model is not installed (voiceguard never downloads one at run time)."""


class DigitSequenceRecognizer(EntityRecognizer):
    """Cards, security codes, SSNs, phone and bank numbers in written, spoken and fused digit runs."""

    ENTITIES: Final = (CREDIT_CARD, CVV, US_SSN, US_BANK_NUMBER, PHONE_NUMBER)

    def __init__(self) -> None:
        super().__init__(supported_entities=list(self.ENTITIES), name="voiceguard-digits")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(f.entity_type, f.start, f.end, f.score)
            for f in find_numbers(text, frozenset(entities))
        ]


_NAME_CUE: Final = re.compile(
    r"\b(?:(?P<strong>(?:my |first |last |full |sur)?name(?: is|'s| was)|call me|spelled)"
    r"|(?P<weak>this is|it's|i am|i'm))\s+",
    re.IGNORECASE,
)
_NAME_WORD: Final = re.compile(r"[A-Za-z][a-z'\-]+|[A-Z]\.?")
_NOT_NAMES: Final = frozenset(
    (  # noqa: SIM905
        "a an the and or but so i im not just very really here there calling call from with about for on in "
        "at to sorry fine good great ok okay sure glad happy ready done back still also trying looking going "
        "interested new actually afraid correct right wrong that this it is was be what who how when why yes "
        "no my your our their his her mister mr mrs ms miss doctor dr"
    ).split()
)
NAME_HINT: Final = re.compile(r"\bname|\bcall me|\bspelled|\bthis is|\bit's|\bi am|\bi'm", re.IGNORECASE)
"""Cheap pre-check: without one of these, ``SpokenNameRecognizer`` finds nothing."""


class SpokenNameRecognizer(EntityRecognizer):
    """Names after a cue ("my name is john smith"): STT often writes them lower-case, where NER falters.

    After a weak cue ("this is", "I'm") only capitalised words count, so "this is great" is no name.
    """

    def __init__(self) -> None:
        super().__init__(supported_entities=[PERSON], name="voiceguard-spoken-name")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for cue in _NAME_CUE.finditer(text):
            strong = cue.group("strong") is not None
            position, start, end = cue.end(), -1, -1
            for _ in range(3):
                word = _NAME_WORD.match(text, position)
                if word is None or word.group().lower().rstrip(".") in _NOT_NAMES:
                    break
                if not strong and not word.group()[0].isupper():
                    break
                start = word.start() if start < 0 else start
                end = word.end()
                position = end
                while position < len(text) and text[position] == " ":
                    position += 1
            if start >= 0:
                results.append(RecognizerResult(PERSON, start, end, 0.8 if strong else 0.6))
        return results


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recogniser, checking domains against the bundled suffix list only.

    Presidio calls ``tldextract.extract``, which downloads the public suffix list on first use; a proxy must
    not reach out to the internet from its hot path (and often cannot).
    """

    def __init__(self) -> None:
        super().__init__()
        self._extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())

    def validate_result(self, pattern_text: str) -> bool:
        return bool(self._extract(pattern_text).fqdn)


class NerOnlySpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy engine running only the named-entity recogniser (and what it listens to)."""

    def __init__(self, model_name: str) -> None:
        super().__init__(
            models=[{"lang_code": "en", "model_name": model_name}],
            ner_model_configuration=NerModelConfiguration(
                model_to_presidio_entity_mapping=dict(NER_LABELS), labels_to_ignore=IGNORED_NER_LABELS
            ),
        )
        self.model_name = model_name

    def load(self) -> None:
        if not spacy.util.is_package(self.model_name):
            raise ModelNotInstalled(
                f"spaCy model {self.model_name!r} is not installed; install it (pip install "
                f"{self.model_name.replace('_', '-')}) or set pii.engine: pattern"
            )
        nlp: Any = spacy.load(self.model_name)
        if "ner" not in nlp.pipe_names:
            raise ModelNotInstalled(f"spaCy model {self.model_name!r} has no named-entity recogniser")
        needed = {"ner"}
        for name, pipe in nlp.pipeline:
            listeners = getattr(pipe, "listener_map", {})
            if "ner" in listeners:
                needed.add(name)
        nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in needed])
        self.nlp = {"en": nlp}  # type: ignore[assignment]
