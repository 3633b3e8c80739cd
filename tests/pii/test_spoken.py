"""Spoken numbers and e-mail addresses are read as written ones, and map back to the words said."""

from __future__ import annotations

import re

import pytest

from voiceguard.pii.spoken import normalise


def spans_of(text: str, pattern: str) -> list[str]:
    """The original text behind each match of ``pattern`` in the normalised text."""
    normalised = normalise(text)
    out = []
    for match in re.finditer(pattern, normalised.text):
        start, end = normalised.to_original(match.start(), match.end())
        out.append(text[start:end])
    return out


def test_text_without_spoken_forms_is_returned_as_is() -> None:
    normalised = normalise("I paid 4111 on Tuesday, thanks!")
    assert not normalised.changed and normalised.text == "I paid 4111 on Tuesday, thanks!"
    assert normalised.to_original(7, 11) == (7, 11)


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("four one one one", "4 1 1 1"),
        ("double five oh seven", "55 0 7"),
        ("triple nine", "999"),
        ("forty one eleven", "41 11"),
        ("twenty-one", "21"),
        ("eight hundred", "800"),
        ("four hundred and fifteen", "415"),
        ("two thousand five", "2005"),
        ("one two three dash four five", "1 2 3 - 4 5"),
        ("plus four four", "+ 4 4"),
    ],
)
def test_spoken_numbers_become_digits(spoken: str, written: str) -> None:
    assert normalise(spoken).text == written


def test_oh_is_zero_only_next_to_numbers() -> None:
    assert normalise("oh, I see, it is nine oh one").text == "oh, I see, it is 9 0 1"


def test_digits_map_back_to_the_whole_words() -> None:
    said = "my card is four one one one, one one one one"
    assert spans_of(said, r"[\d][\d ,]*\d") == ["four one one one, one one one one"]


def test_verbatim_text_maps_back_character_for_character() -> None:
    said = "call me, John, at five five five"
    normalised = normalise(said)
    start = normalised.text.index("John")
    assert normalised.to_original(start, start + 4) == (said.index("John"), said.index("John") + 4)


@pytest.mark.parametrize(
    ("spoken", "address"),
    [
        ("john dot smith at gmail dot com", "john.smith@gmail.com"),
        ("j o h n at example dot org", "john@example.org"),
        ("jane underscore doe at company dot co dot uk", "jane_doe@company.co.uk"),
        ("sam one two at mail dot io", "sam12@mail.io"),
        ("jane.doe at example.com", "jane.doe@example.com"),
    ],
)
def test_spoken_email_addresses_are_collapsed(spoken: str, address: str) -> None:
    assert normalise(f"it is {spoken} thanks").text == f"it is {address} thanks"
    assert spans_of(f"it is {spoken} thanks", r"\S+@\S+") == [spoken]


def test_at_without_a_domain_is_left_alone() -> None:
    assert normalise("meet me at the station dot").text == "meet me at the station dot"
