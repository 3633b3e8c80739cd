"""The labelled voice set: voiceguard keeps its recall on payment data and flags no decoy as one,
and beats plain Presidio where speech differs from text (figures: ``python -m benchmarks.pii_eval``)."""

from __future__ import annotations

import pytest

from benchmarks.pii_eval import Report, evaluate, load_cases, presidio_detector, voiceguard_detector
from voiceguard.pii.engine import PiiEngine


@pytest.fixture(scope="module")
def pattern_report(pattern_engine: PiiEngine) -> Report:
    return evaluate(load_cases(), voiceguard_detector(pattern_engine))


def test_the_set_has_every_kind_of_case() -> None:
    cases = load_cases()
    assert len(cases) >= 90
    assert sum(1 for c in cases if not any(c.labels)) >= 30  # decoys
    assert sum(1 for c in cases if len(c.results) > 1) >= 5  # split across results
    assert sum(1 for c in cases if c.agent) >= 4  # cue from the agent


def test_payment_data_is_found_whatever_its_form(pattern_report: Report) -> None:
    scores = pattern_report.scores
    assert scores["CREDIT_CARD"].recall_any_type >= 0.95
    for entity in ("CVV", "US_SSN", "US_BANK_NUMBER", "IBAN_CODE", "EMAIL_ADDRESS"):
        assert scores[entity].recall_any_type == 1.0, entity
    assert scores["PHONE_NUMBER"].recall_any_type >= 0.9


def test_decoys_are_not_taken_for_payment_data(pattern_report: Report) -> None:
    for entity in ("CREDIT_CARD", "CVV", "US_SSN", "US_BANK_NUMBER"):
        assert pattern_report.scores[entity].precision == 1.0, entity
    assert pattern_report.decoy_hits <= 1


def test_names_need_the_language_model_beyond_spoken_cues(
    ner_engine: PiiEngine, pattern_report: Report
) -> None:
    with_ner = evaluate(load_cases(), voiceguard_detector(ner_engine))
    assert with_ner.scores["PERSON"].recall == 1.0
    assert pattern_report.scores["PERSON"].recall < 1.0


def test_plain_presidio_misses_what_voiceguard_finds_on_the_same_set(pattern_report: Report) -> None:
    presidio = evaluate(load_cases(), presidio_detector())
    for entity in ("CREDIT_CARD", "US_SSN", "PHONE_NUMBER", "EMAIL_ADDRESS"):
        assert presidio.scores[entity].recall_any_type < pattern_report.scores[entity].recall_any_type
    assert "card-mastercard-2-series:CREDIT_CARD" in presidio.missed
    assert "card-spoken-digits:CREDIT_CARD" in presidio.missed
