"""Canonical JSON: the bytes every hash is taken over must be the RFC 8785 bytes."""

from __future__ import annotations

import json

import pytest

from voiceguard.audit.canonical import NotCanonical, canonical, format_time, parse_time
from voiceguard.audit.record import BadRecord, make_entry


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    # U+1F600 is a surrogate pair (D83D DE00) and sorts before U+FB01 in UTF-16, after it by code point.
    value = {"\ufb01": 1, "\U0001f600": 2, "b": 3, "a": 4, "": 5}
    assert canonical(value) == '{"":5,"a":4,"b":3,"\U0001f600":2,"\ufb01":1}'


def test_strings_escape_only_quote_backslash_and_control_characters() -> None:
    text = 'a"b\\c\n\t\x01\x7f é € \u2028'
    assert canonical(text) == '"a\\"b\\\\c\\n\\t\\u0001\x7f é € \u2028"'


def test_rfc8785_literals_and_nesting() -> None:
    value = {
        "numbers": [0, -1, 9007199254740991],
        "literals": [None, True, False],
        "nested": {"z": [], "y": {}},
    }
    assert canonical(value) == (
        '{"literals":[null,true,false],"nested":{"y":{},"z":[]},"numbers":[0,-1,9007199254740991]}'
    )


@pytest.mark.parametrize("bad", [1.5, 2**53, {"k": float("nan")}, {1: "x"}, b"bytes", "\ud800"])
def test_values_that_do_not_round_trip_are_refused(bad: object) -> None:
    with pytest.raises(NotCanonical):
        canonical(bad)


def test_an_entry_spliced_with_its_sequence_number_is_canonical() -> None:
    entry = make_entry(
        "decision", {"rule": "PII-1", "counts": {"CREDIT_CARD": 2}}, time_us=5, call_id="c", source="r"
    )
    body = entry.body(42)
    parsed = json.loads(body)
    assert canonical(parsed) == body
    assert parsed["seq"] == 42 and parsed["call"] == "c" and parsed["kind"] == "decision"


def test_an_entry_without_a_call_is_canonical_too() -> None:
    body = make_entry("audit.logging_started", {}, time_us=1, call_id=None, source="r").body(1)
    assert canonical(json.loads(body)) == body
    assert "call" not in json.loads(body)


@pytest.mark.parametrize(
    ("kind", "data"),
    [("Bad Kind", {}), ("request", {"latency": 1.5}), ("request", {"blob": "x" * 70_000})],
)
def test_malformed_records_are_refused_with_a_reason(kind: str, data: dict[str, object]) -> None:
    with pytest.raises(BadRecord):
        make_entry(kind, data, time_us=1, call_id=None, source="r")  # type: ignore[arg-type]


def test_times_are_rfc3339_utc_with_microseconds_and_parse_back() -> None:
    assert format_time(1_700_000_000_123_456) == "2023-11-14T22:13:20.123456Z"
    assert parse_time("2023-11-14T22:13:20.123456Z") == 1_700_000_000_123_456
    assert parse_time("2023-11-14") == 1_699_920_000_000_000
    assert parse_time("2023-11-14T23:13:20.123456+01:00") == 1_700_000_000_123_456
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday")
