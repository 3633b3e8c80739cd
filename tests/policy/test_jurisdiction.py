"""Where a call is: codes, what contains what, and a caller's E.164 number to a country or US state."""

from __future__ import annotations

import pytest

from voiceguard.policy.jurisdiction import chain, from_e164, is_known


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+13125550100", "US-IL"),  # Chicago
        ("+12175550100", "US-IL"),  # downstate Illinois
        ("+15125550100", "US-TX"),
        ("+12065550100", "US-WA"),
        ("+13035550100", "US-CO"),
        ("+14165550100", "CA-ON"),
        ("+15145550100", "CA-QC"),
        ("+17875550100", "US-PR"),  # a territory with its own region code is still the US
        ("+18765550100", "JM"),  # NANP, but another country
        ("+4930901820", "DE"),
        ("+33612345678", "FR"),
        ("+442071838750", "GB"),
    ],
)
def test_a_caller_number_resolves_to_its_country_and_us_state(number: str, expected: str) -> None:
    assert from_e164(number) == expected


@pytest.mark.parametrize("value", ["customer-42", "3125550100", "+1", "+999123", "+" + "1" * 30, ""])
def test_anything_that_is_not_an_e164_number_does_not_resolve(value: str) -> None:
    assert from_e164(value) is None


def test_a_state_is_inside_its_country_and_an_eu_member_inside_the_eu() -> None:
    assert chain("US-IL") == ("US-IL", "US", "*")
    assert chain("DE") == ("DE", "EU", "*")
    assert chain("GB") == ("GB", "*")
    assert chain("pr") == ("US-PR", "US", "*")


def test_known_codes_include_countries_states_provinces_and_the_eu_but_not_typos() -> None:
    assert all(is_known(code) for code in ("*", "EU", "DE", "US-IL", "CA-QC", "US-PR"))
    assert not any(is_known(code) for code in ("US-ZZ", "XX", "EU-DE", "CA-IL"))
