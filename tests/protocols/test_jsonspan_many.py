"""Many JSON edits in one walk: same bytes as one-by-one edits, and neighbouring deletions that compose."""

from __future__ import annotations

import orjson
import pytest

from voiceguard.protocols.jsonspan import DELETE, JsonSpanError, edit, edit_many

WORD = b'{"word": "4111", "start": 0.5, "speaker": 0, "speaker_confidence": 0.9}'
DOC = b'{"words": [' + b", ".join([WORD] * 3) + b'], "t": "x"}'


def test_replacements_match_single_edits_byte_for_byte() -> None:
    edits = [(("words", 0, "word"), "[CARD]"), (("t",), "y"), (("words", 2, "start"), 1.25)]
    assert edit_many(DOC, edits) == edit(DOC, edits)


def test_adjacent_trailing_keys_are_deleted_together() -> None:
    out = edit_many(
        DOC, [(("words", i, key), DELETE) for i in range(3) for key in ("speaker", "speaker_confidence")]
    )
    assert out == DOC.replace(b', "speaker": 0, "speaker_confidence": 0.9', b"")


def test_leading_and_middle_members_are_deleted_with_their_separators() -> None:
    out = edit_many(DOC, [(("words", 0), DELETE), (("words", 1), DELETE), (("t",), DELETE)])
    assert out == b'{"words": [' + WORD + b"]}"
    everything = edit_many(DOC, [(("words",), DELETE), (("t",), DELETE)])
    assert everything == b"{}"


def test_an_edit_inside_a_replaced_value_yields_to_it() -> None:
    out = edit_many(DOC, [(("words",), []), (("words", 1, "speaker"), DELETE)])
    assert orjson.loads(out) == {"words": [], "t": "x"}


def test_a_missing_path_is_an_error() -> None:
    with pytest.raises(JsonSpanError):
        edit_many(DOC, [(("words", 7, "word"), "x")])
    with pytest.raises(JsonSpanError):
        edit_many(DOC, [((), "x")])


def test_no_edits_returns_the_same_bytes_object() -> None:
    assert edit_many(DOC, []) is DOC
