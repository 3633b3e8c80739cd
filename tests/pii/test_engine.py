"""The engine finds what plain Presidio misses on speech, in the text only, and fails closed."""

from __future__ import annotations

import pytest

from voiceguard.pii.engine import AnalysisFailed, EngineSettings, PiiEngine, build_engine
from voiceguard.pii.entities import (
    ALL_ENTITIES,
    CREDIT_CARD,
    EMAIL_ADDRESS,
    LOCATION,
    PERSON,
    PHONE_NUMBER,
    US_SSN,
)
from voiceguard.pii.recognizers import ModelNotInstalled


def found(engine: PiiEngine, text: str, prefix: str = "") -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in engine.analyze(text, ALL_ENTITIES, prefix=prefix)]


@pytest.mark.parametrize(
    ("said", "entity", "span"),
    [
        ("my card is four one one one one one one one one one one one one one one one",
         CREDIT_CARD, "four one one one one one one one one one one one one one one one"),
        ("mastercard 2221 0000 0000 0009", CREDIT_CARD, "2221 0000 0000 0009"),
        ("my social is one two three, four five, six seven eight nine",
         US_SSN, "one two three, four five, six seven eight nine"),
        ("call me at four one five, five five five, one two three four",
         PHONE_NUMBER, "four one five, five five five, one two three four"),
        ("it's john dot smith at gmail dot com", EMAIL_ADDRESS, "john dot smith at gmail dot com"),
    ],
)  # fmt: skip
def test_spoken_forms_are_found_and_mapped_to_the_words(
    pattern_engine: PiiEngine, said: str, entity: str, span: str
) -> None:
    assert found(pattern_engine, said) == [(entity, span)]


def test_a_number_split_across_results_is_caught_in_the_second(pattern_engine: PiiEngine) -> None:
    assert found(pattern_engine, "1111 1111", prefix="4111 1111 ") == [(CREDIT_CARD, "1111 1111")]
    assert found(pattern_engine, "1111 1111") == []


def test_findings_inside_the_prefix_are_never_reported(pattern_engine: PiiEngine) -> None:
    assert found(pattern_engine, "thanks a lot", prefix="my card is 4111 1111 1111 1111\n") == []


def test_a_cue_from_the_agents_question_counts(pattern_engine: PiiEngine) -> None:
    assert found(pattern_engine, "one two three", prefix="What is the security code on the back?\n") == [
        ("CVV", "one two three")
    ]


def test_ner_finds_names_and_places_pattern_only_finds_names_after_cues(
    ner_engine: PiiEngine, pattern_engine: PiiEngine
) -> None:
    text = "Yes, Maria Garcia flew to Boston yesterday. My name is john smith."
    assert set(found(ner_engine, text)) >= {(PERSON, "Maria Garcia"), (LOCATION, "Boston")}
    assert found(pattern_engine, text) == [(PERSON, "john smith")]
    assert LOCATION not in pattern_engine.supported


def test_ner_can_be_skipped_per_text(ner_engine: PiiEngine) -> None:
    text = "Maria Garcia flew to Boston"
    assert ner_engine.analyze(text, ALL_ENTITIES, ner=False) == []


def test_an_entity_on_a_chunk_boundary_is_found_whole() -> None:
    engine = build_engine(EngineSettings(model="pattern", chunk_chars=200))
    text = "words " * 32 + "card 4111 1111 1111 1111 and more words " * 3
    findings = [f for f in engine.analyze(text, ALL_ENTITIES) if f.entity_type == CREDIT_CARD]
    assert [text[f.start : f.end] for f in findings] == ["4111 1111 1111 1111"] * 3


def test_analysis_past_the_deadline_fails_closed_and_is_reported() -> None:
    reasons: list[str] = []
    engine = build_engine(
        EngineSettings(model="pattern", timeout_ms=0.000001, chunk_chars=200), on_failure=reasons.append
    )
    with pytest.raises(AnalysisFailed) as failed:
        engine.analyze("words " * 100 + "4111 1111 1111 1111", ALL_ENTITIES)
    assert failed.value.reason == "timeout" and reasons == ["timeout"]
    assert engine.analyze("short 4111 1111 1111 1111", ALL_ENTITIES)  # one chunk always completes


def test_a_missing_spacy_model_is_a_clear_start_up_error() -> None:
    with pytest.raises(ModelNotInstalled, match=r"not installed.*pii\.engine: pattern"):
        build_engine(EngineSettings(model="xx_no_such_model"))


def test_repeated_texts_come_from_the_cache_with_the_same_findings(pattern_engine: PiiEngine) -> None:
    text = "please charge my card 4111 1111 1111 1111 for the order we talked about earlier today"
    first = pattern_engine.analyze(text, ALL_ENTITIES)
    assert pattern_engine.analyze(text, ALL_ENTITIES) == first and first
