"""Digit sequences: cards (Mastercard 2-series, 19-digit, fused runs), codes, SSNs, phones, decoys."""

from __future__ import annotations

import pytest

from voiceguard.pii.entities import ALL_ENTITIES, CREDIT_CARD, CVV, PHONE_NUMBER, US_BANK_NUMBER, US_SSN
from voiceguard.pii.numbers import find_numbers, in_card_range, luhn_valid


def with_check_digit(body: str) -> str:
    return next(body + str(digit) for digit in range(10) if luhn_valid(body + str(digit)))


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in find_numbers(text, ALL_ENTITIES)]


def test_luhn_and_issuer_ranges() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert in_card_range("2221000000000009") and in_card_range("2720990000000007")
    assert not in_card_range("2220990000000000") and not in_card_range("1234567890123")


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "2221 0000 0000 0009",  # Mastercard 2-series, which Presidio's default pattern misses
        "5555-5555-5555-4444",
        "3782 822463 10005",  # Amex
        with_check_digit("622126000000000000"),  # 19-digit PAN
        "4 1 1 1, 1 1 1 1, 1 1 1 1, 1 1 1 1",  # as the normaliser writes a spoken card
    ],
)
def test_card_numbers_are_found_in_any_grouping(card: str) -> None:
    assert found(f"the number is {card} ok") == [(CREDIT_CARD, card)]


def test_a_fused_run_of_thirteen_or_more_digits_is_a_card_even_without_luhn() -> None:
    assert found("it is 41111111111111112345 yes") == [(CREDIT_CARD, "41111111111111112345")]
    assert found("card 4111 1111 1111 1112") == [(CREDIT_CARD, "4111 1111 1111 1112")]


def test_cues_decide_short_numbers() -> None:
    assert found("the security code is 123") == [(CVV, "123")]
    assert found("my social is 123 45 6789") == [(US_SSN, "123 45 6789")]
    assert found("my ssn is 123456789") == [(US_SSN, "123456789")]
    assert found("routing 021000021 account 12345678") == [
        (US_BANK_NUMBER, "021000021"),
        (US_BANK_NUMBER, "12345678"),
    ]
    assert found("my card number starts 4111 1111") == [(CREDIT_CARD, "4111 1111")]


def test_phone_numbers() -> None:
    assert found("call me on 415-555-1234") == [(PHONE_NUMBER, "415-555-1234")]
    assert found("call me on 4155551234") == [(PHONE_NUMBER, "4155551234")]
    assert found("it's +44 20 7946 0958") == [(PHONE_NUMBER, "+44 20 7946 0958")]
    assert found("my phone is 555 1234") == [(PHONE_NUMBER, "555 1234")]


def test_ssn_written_with_dashes_needs_no_cue() -> None:
    assert found("it is 123-45-6789") == [(US_SSN, "123-45-6789")]
    assert found("it is 000-45-6789") == []


@pytest.mark.parametrize(
    "decoy",
    [
        "my order number is 12345678",
        "order number 8765432109",
        "the zip is 94105",
        "it cost $1,250.00 last week",
        "that is 4155551234 dollars",
        "we met on 2024-05-06 at 10:30",
        "room 1234 on floor 12",
        "I was born in 1985 and have 3 kids",
        "confirmation number 5512 3490 1234",
        "my card ends in 1234",
    ],
)
def test_decoys_are_not_entities(decoy: str) -> None:
    assert found(decoy) == []
