"""A transcript's word list is redacted like its text; a word that cannot be placed is masked."""

from __future__ import annotations

from voiceguard.events import Word
from voiceguard.pii.entities import CREDIT_CARD, Finding
from voiceguard.pii.words import locate, redact_words


def test_words_are_located_in_order_ignoring_case_and_punctuation() -> None:
    words = [Word("Hello,"), Word("card"), Word("four"), Word("one")]
    assert locate(words, "hello, my card: four one") == [(0, 5), (10, 14), (16, 20), (21, 24)]


def test_words_in_a_finding_get_its_label_and_unplaceable_words_are_masked() -> None:
    text = "my card is four one"
    finding = Finding(CREDIT_CARD, text.index("four"), len(text), 1.0)
    words = [Word("my"), Word("card"), Word("is"), Word("4"), Word("one")]
    redacted = [w.text for w in redact_words(words, text, [finding])]
    assert redacted == ["my", "card", "is", "*", "<CREDIT_CARD>"]
    assert redact_words(words, text, []) == tuple(words)
