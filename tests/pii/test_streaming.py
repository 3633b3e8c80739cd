"""Streams release at once what cannot become an entity, hold the open tail, and restore placeholders."""

from __future__ import annotations

import pytest

from voiceguard.pii.engine import PiiEngine
from voiceguard.pii.entities import ALL_ENTITIES, CREDIT_CARD, Finding
from voiceguard.pii.streaming import PlaceholderRestorer, Released, StreamScanner, open_tail_start
from voiceguard.pii.vault import EphemeralSealer, PseudonymVault


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("Sure, I can", ""),
        ("my card is 4111 1111 ", "4111 1111 "),
        ("my card is 41", "41"),
        ("it is fo", "fo"),  # may become "four"
        ("write to john dot smith at gmail dot", "john dot smith at gmail dot"),
        ("number is 4111 1111 1111 1111 thanks ", ""),
        ("see you at home.", "you at home."),  # "home." may still become "home.com"
        ("Sure,", ""),
    ],
)
def test_open_tail(text: str, held: str) -> None:
    assert text[open_tail_start(text) :] == held


def scanner(engine: PiiEngine, *, sentences: bool = False, hold_limit: int = 80) -> StreamScanner:
    def analyze(text: str, prefix: str) -> list[Finding]:
        return engine.analyze(text, ALL_ENTITIES, prefix=prefix)

    return StreamScanner(analyze, hold_limit=hold_limit, sentences=sentences)


def feed_all(stream: StreamScanner, deltas: list[str]) -> list[Released | None]:
    return [stream.feed(delta) for delta in deltas] + [stream.flush()]


def test_plain_text_is_released_delta_by_delta(pattern_engine: PiiEngine) -> None:
    out = feed_all(scanner(pattern_engine), ["Sure", ",", " I can", " help", "."])
    assert [r.text if r else None for r in out] == ["Sure", ",", " I can", " help", ".", None]


def test_a_card_across_deltas_is_held_then_released_with_its_finding(pattern_engine: PiiEngine) -> None:
    stream = scanner(pattern_engine)
    out = feed_all(stream, ["Your card", " 4111", " 1111", " 1111 1111", " is on file."])
    released = [r for r in out if r is not None]
    text = "".join(r.text for r in released)
    assert text == "Your card 4111 1111 1111 1111 is on file."
    [with_card] = [r for r in released if r.findings]
    [finding] = with_card.findings
    assert finding.entity_type == CREDIT_CARD and with_card.text[finding.start : finding.end] == (
        "4111 1111 1111 1111"
    )
    assert max(len(r.text) for r in released) <= 40


def test_sentence_mode_releases_at_boundaries_or_the_hold_limit(pattern_engine: PiiEngine) -> None:
    stream = scanner(pattern_engine, sentences=True, hold_limit=30)
    assert stream.feed("Hello Maria") is None
    released = stream.feed(". How are")
    assert released is not None and released.text == "Hello Maria. "
    released = stream.feed(" you doing on this fine day")
    assert released is not None and released.text == "How are you doing on this fine day"


def test_a_tail_longer_than_the_hold_limit_is_released_as_complete(pattern_engine: PiiEngine) -> None:
    stream = scanner(pattern_engine, hold_limit=20)
    assert stream.feed("1234 5678 ") is None
    released = stream.feed("9012 3456 7890 12")
    assert released is not None and released.text == "1234 5678 9012 3456 7890 12"
    assert [f.entity_type for f in released.findings] == [CREDIT_CARD]


def vault_with_card() -> PseudonymVault:
    vault = PseudonymVault(EphemeralSealer(), "call", ttl_s=60, max_entries=10)
    vault.pseudonym("CREDIT_CARD", "4111 1111 1111 1111")
    return vault


def test_a_placeholder_split_across_deltas_is_restored() -> None:
    restorer = PlaceholderRestorer(vault_with_card())
    outputs = [restorer.feed(delta)[0] for delta in ["Card <CRED", "IT_CARD", "_1> saved", ", <b>ok"]]
    assert outputs == ["Card ", "", "4111 1111 1111 1111 saved", ", <b>ok"]


def test_restorer_flush_gives_back_an_unfinished_placeholder_as_is() -> None:
    restorer = PlaceholderRestorer(vault_with_card())
    assert restorer.feed("ends <CREDIT_") == ("ends ", {})
    assert restorer.flush() == ("<CREDIT_", {})


def test_restorer_holds_nothing_while_the_vault_is_empty() -> None:
    restorer = PlaceholderRestorer(PseudonymVault(EphemeralSealer(), "call", ttl_s=60, max_entries=10))
    assert restorer.feed("a <CRED") == ("a <CRED", {})
