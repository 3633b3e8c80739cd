"""Surgical JSON edits: the changed value moves, nothing else does."""

from __future__ import annotations

import orjson
import pytest

from voiceguard.protocols.jsonspan import DELETE, JsonSpanError, edit, find

DOC = (
    b'{"type": "x", "choices": [ {"delta": {"content": "my card is 4111"}, "n": 1.5e3}, {"delta": {}} ],'
    b'\n "t": "\\u00e9"}'
)


def test_find_locates_the_exact_span() -> None:
    start, end = find(DOC, ("choices", 0, "delta", "content"))
    assert DOC[start:end] == b'"my card is 4111"'


def test_edit_changes_only_the_target_bytes() -> None:
    out = edit(DOC, [(("choices", 0, "delta", "content"), "my card is <CREDIT_CARD_1>")])
    assert out == DOC.replace(b'"my card is 4111"', b'"my card is <CREDIT_CARD_1>"')
    assert orjson.loads(out)["t"] == "é"


def test_several_edits_and_deletions() -> None:
    out = edit(DOC, [(("type",), "y"), (("choices", 0, "n"), DELETE), (("t",), DELETE)])
    assert orjson.loads(out) == {
        "type": "y",
        "choices": [{"delta": {"content": "my card is 4111"}}, {"delta": {}}],
    }


def test_deleting_array_elements_keeps_valid_json() -> None:
    doc = b'{"words": [{"w": 1}, {"w": 2}, {"w": 3}]}'
    assert orjson.loads(edit(doc, [(("words", 1), DELETE)])) == {"words": [{"w": 1}, {"w": 3}]}
    assert orjson.loads(edit(doc, [(("words", 2), DELETE)])) == {"words": [{"w": 1}, {"w": 2}]}
    assert orjson.loads(edit(b'{"only": 1}', [(("only",), DELETE)])) == {}


def test_strings_with_escaped_quotes_and_brackets_are_skipped_correctly() -> None:
    doc = b'{"a": "he said \\"}]\\" ok", "b": "target"}'
    assert edit(doc, [(("b",), "done")]) == b'{"a": "he said \\"}]\\" ok", "b": "done"}'


@pytest.mark.parametrize("path", [("missing",), ("choices", 5), ("type", "deeper")])
def test_absent_paths_raise(path: tuple[str | int, ...]) -> None:
    with pytest.raises(JsonSpanError):
        edit(DOC, [(path, "x")])


def test_malformed_json_raises() -> None:
    with pytest.raises(JsonSpanError):
        find(b'{"a": "unterminated', ("a",))
