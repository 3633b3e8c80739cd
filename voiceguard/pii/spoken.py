"""Spoken forms to written ones, with a map back to the original characters.

Speech-to-text writes what it hears: "four one one one", "double five", "oh seven", "john dot smith at
gmail dot com". Pattern recognisers look for digits and ``@``, so the text is normalised first ("4 1 1 1",
"55", "0 7", "john.smith@gmail.com") and every finding is mapped back to the span of the original words, so
redaction replaces exactly what the speaker said. Normalisation is only a lens for detection: nothing it
writes ever reaches the wire.

Digits keep the separators the speaker's words had ("four one one one" → "4 1 1 1"); the digit-sequence
recogniser reads through single separators, so spoken and written numbers look alike to it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Final

UNITS: Final = {
    "zero": 0, "nought": 0, "naught": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
TEENS: Final = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS: Final = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
REPEATS: Final = {"double": 2, "triple": 3}
ZERO_LETTERS: Final = frozenset({"oh", "o"})
"""Zero as spoken, but only next to other numbers ("oh seven"), never in "oh, I see"."""
DASHES: Final = frozenset({"dash", "hyphen"})
EMAIL_CONNECTORS: Final = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-", "period": "."}

NUMBER_WORDS: Final = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | {"hundred", "thousand"}
SPOKEN_WORDS: Final = NUMBER_WORDS | frozenset(REPEATS) | ZERO_LETTERS | DASHES | {"at", "plus"}
"""Every word the normaliser may rewrite (the streaming hold-back also uses it)."""

_TOKENS = re.compile(r"(?P<word>[A-Za-z]+)|(?P<digits>\d+)|(?P<other>[^A-Za-z\d]+)")
_SPOKEN_HINT = re.compile(
    r"\b(?:" + "|".join(sorted(SPOKEN_WORDS - ZERO_LETTERS - {"at"}, key=len, reverse=True)) + r"|at)\b",
    re.IGNORECASE,
)
_LABEL = re.compile(r"[a-z0-9]+")
_NOT_LOCAL: Final = frozenset({"is", "was", "its", "me", "my", "to", "at", "email", "address", "mail", "e"})
_COMMON_TLDS: Final = frozenset(
    {"com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "app", "dev", "io", "ai", "co", "me"}
)


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    end: int
    kind: str  # "word" | "digits" | "other"

    @property
    def lower(self) -> str:
        return self.text.lower()


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    start: int
    end: int
    verbatim: bool


class Normalised:
    """Normalised text and the way back to the original's character offsets."""

    __slots__ = ("_norm_starts", "_pieces", "original", "text")

    def __init__(self, original: str, pieces: list[_Piece] | None = None) -> None:
        self.original = original
        self._pieces = pieces
        if pieces is None:
            self.text = original
            self._norm_starts: list[int] = []
        else:
            self.text = "".join(piece.text for piece in pieces)
            starts, position = [], 0
            for piece in pieces:
                starts.append(position)
                position += len(piece.text)
            self._norm_starts = starts

    @property
    def changed(self) -> bool:
        return self._pieces is not None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span behind ``text[start:end]`` (a rewritten word maps to the whole word)."""
        pieces = self._pieces
        if pieces is None or end <= start:
            return start, end
        first = bisect.bisect_right(self._norm_starts, start) - 1
        last = bisect.bisect_right(self._norm_starts, end - 1) - 1
        head, tail = pieces[first], pieces[last]
        original_start = head.start + (start - self._norm_starts[first]) if head.verbatim else head.start
        original_end = tail.start + (end - self._norm_starts[last]) if tail.verbatim else tail.end
        return original_start, original_end


def normalise(text: str) -> Normalised:
    """Rewrite spoken numbers and e-mail addresses; returns the text itself when it has none."""
    if not _SPOKEN_HINT.search(text):
        return Normalised(text)
    tokens = [
        _Token(match.group(), match.start(), match.end(), match.lastgroup or "other")
        for match in _TOKENS.finditer(text)
    ]
    rewrites: dict[int, tuple[int, str]] = {}  # first token index -> (last token index, replacement)
    _find_emails(tokens, rewrites)
    _find_numbers(tokens, rewrites)
    if not rewrites:
        return Normalised(text)
    pieces: list[_Piece] = []
    index = 0
    verbatim_from = 0
    while index < len(tokens):
        rewrite = rewrites.get(index)
        if rewrite is None:
            index += 1
            continue
        last, replacement = rewrite
        start, end = tokens[index].start, tokens[last].end
        if start > verbatim_from:
            pieces.append(_Piece(text[verbatim_from:start], verbatim_from, start, True))
        pieces.append(_Piece(replacement, start, end, False))
        verbatim_from = end
        index = last + 1
    if verbatim_from < len(text):
        pieces.append(_Piece(text[verbatim_from:], verbatim_from, len(text), True))
    return Normalised(text, pieces)


# --- numbers ---------------------------------------------------------------------------------------------


def _is_number_token(token: _Token) -> bool:
    return token.kind == "digits" or (token.kind == "word" and token.lower in NUMBER_WORDS | REPEATS.keys())


def _numeric_flags(tokens: list[_Token]) -> list[bool]:
    """Which tokens are numbers: number words and digits, plus "oh" next to them (repeated to a fixpoint)."""
    flags = [_is_number_token(token) for token in tokens]
    changed = True
    while changed:
        changed = False
        for index, token in enumerate(tokens):
            if flags[index] or token.kind != "word" or token.lower not in ZERO_LETTERS:
                continue
            if _numeric_neighbour(tokens, flags, index, -1) or _numeric_neighbour(tokens, flags, index, 1):
                flags[index] = True
                changed = True
    return flags


def _numeric_neighbour(tokens: list[_Token], flags: list[bool], index: int, step: int) -> bool:
    neighbour = index + step
    if 0 <= neighbour < len(tokens) and tokens[neighbour].kind == "other":
        if tokens[neighbour].text.strip(" ,-") != "":
            return False
        neighbour += step
    return 0 <= neighbour < len(tokens) and flags[neighbour]


def _word_value(token: _Token) -> tuple[str, int] | None:
    """(class, value) of a number word: unit, teen, tens, scale, repeat."""
    word = token.lower
    if word in UNITS:
        return "unit", UNITS[word]
    if word in ZERO_LETTERS:
        return "unit", 0
    if word in TEENS:
        return "teen", TEENS[word]
    if word in TENS:
        return "tens", TENS[word]
    if word == "hundred":
        return "scale", 100
    if word == "thousand":
        return "scale", 1000
    if word in REPEATS:
        return "repeat", REPEATS[word]
    return None


def _find_numbers(tokens: list[_Token], rewrites: dict[int, tuple[int, str]]) -> None:
    flags = _numeric_flags(tokens)
    consumed = {i for first, (last, _) in rewrites.items() for i in range(first, last + 1)}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if index in consumed or not flags[index]:
            if token.kind == "word" and token.lower in DASHES | {"plus"} and index not in consumed:
                _symbol_word(tokens, flags, index, rewrites)
            index += 1
            continue
        if token.kind == "digits":
            index += 1
            continue
        last, value = _compose(tokens, flags, index, consumed)
        if value is not None:
            rewrites[index] = (last, value)
        index = last + 1


def _symbol_word(
    tokens: list[_Token], flags: list[bool], index: int, rewrites: dict[int, tuple[int, str]]
) -> None:
    """ "dash" between numbers becomes "-"; "plus" before a number becomes "+"."""
    word = tokens[index].lower
    after = _numeric_neighbour(tokens, flags, index, 1)
    if word == "plus" and after:
        rewrites[index] = (index, "+")
    elif word in DASHES and after and _numeric_neighbour(tokens, flags, index, -1):
        rewrites[index] = (index, "-")


def _next_word(tokens: list[_Token], flags: list[bool], index: int, consumed: set[int]) -> int | None:
    """The next number token after ``index`` if only a space or a hyphen lies between."""
    gap = index + 1
    if gap < len(tokens) and tokens[gap].kind == "other" and tokens[gap].text.strip(" -") == "":
        gap += 1
    if gap < len(tokens) and gap not in consumed and flags[gap] and tokens[gap].kind == "word":
        return gap
    return None


def _compose(
    tokens: list[_Token], flags: list[bool], index: int, consumed: set[int]
) -> tuple[int, str | None]:
    """Read one spoken number starting at ``index``: (last token used, its digits)."""
    kind_value = _word_value(tokens[index])
    if kind_value is None:
        return index, None
    kind, value = kind_value
    following = _next_word(tokens, flags, index, consumed)
    following_value = _word_value(tokens[following]) if following is not None else None
    if kind == "repeat":
        if following is not None and following_value is not None and following_value[0] == "unit":
            return following, str(following_value[1]) * value
        return index, None
    if kind == "scale":
        return index, str(value)
    if kind in ("unit", "teen") and following_value == ("scale", 100) and following is not None:
        return _scaled(tokens, flags, following, consumed, value * 100)
    if kind in ("unit", "teen", "tens") and following_value == ("scale", 1000) and following is not None:
        return _scaled(tokens, flags, following, consumed, value * 1000)
    unit_after = following_value is not None and following_value[0] == "unit" and following_value[1] != 0
    if kind == "tens" and following is not None and following_value is not None and unit_after:
        return following, str(value + following_value[1])
    return index, str(value)


def _scaled(
    tokens: list[_Token], flags: list[bool], scale_index: int, consumed: set[int], base: int
) -> tuple[int, str]:
    """ "four hundred [and] fifteen", "two thousand five": the scaled value plus what follows it."""
    position = scale_index
    following = _next_word(tokens, flags, position, consumed)
    if following is None:
        and_gap = position + 2
        if (
            and_gap < len(tokens)
            and tokens[position + 1].text == " "
            and tokens[and_gap].lower == "and"
            and and_gap + 1 < len(tokens)
        ):
            following = _next_word(tokens, flags, and_gap, consumed)
    if following is not None:
        last, rest = _compose(tokens, flags, following, consumed)
        if rest is not None and rest.isdigit() and int(rest) < (100 if base % 1000 else 1000):
            return last, str(base + int(rest))
    return position, str(base)


# --- e-mail addresses ------------------------------------------------------------------------------------


def _find_emails(tokens: list[_Token], rewrites: dict[int, tuple[int, str]]) -> None:
    for index, token in enumerate(tokens):
        if token.kind != "word" or token.lower != "at":
            continue
        domain = _domain_after(tokens, index)
        local = _local_before(tokens, index)
        if domain is None or local is None:
            continue
        first, local_text = local
        last, domain_text = domain
        if any(first <= taken <= last for taken in rewrites):
            continue
        rewrites[first] = (last, f"{local_text}@{domain_text}")


def _spoken_char(token: _Token) -> str | None:
    if token.kind == "digits":
        return token.text
    if token.kind == "word":
        if token.lower in UNITS:
            return str(UNITS[token.lower])
        return token.lower
    return None


def _domain_after(tokens: list[_Token], at: int) -> tuple[int, str] | None:
    """ "gmail dot com" or "gmail.com" after "at": (last token index, "gmail.com")."""
    position = at + 2
    if position >= len(tokens) or tokens[at + 1].text != " " or not _is_label(tokens[position]):
        return None
    labels = [tokens[position].lower]
    while True:
        written = position + 2 < len(tokens) and tokens[position + 1].text == "."
        if written and _is_label(tokens[position + 2]):
            position += 2
        elif (
            position + 4 < len(tokens)
            and tokens[position + 1].text == " "
            and tokens[position + 2].lower in ("dot", "period")
            and tokens[position + 3].text == " "
            and _is_label(tokens[position + 4])
        ):
            position += 4
        else:
            break
        labels.append(tokens[position].lower)
    tld = labels[-1]
    if len(labels) < 2 or not tld.isalpha() or not (len(tld) == 2 or tld in _COMMON_TLDS):
        return None
    return position, ".".join(labels)


def _is_label(token: _Token) -> bool:
    return token.kind in ("word", "digits") and token.lower not in EMAIL_CONNECTORS


def _local_before(tokens: list[_Token], at: int) -> tuple[int, str] | None:
    """The local part before "at": a word, joined by spoken or written connectors, or spelled letters."""
    if at < 2 or tokens[at - 1].text != " ":
        return None
    index = at - 2
    first_char = _spoken_char(tokens[index])
    if first_char is None or first_char in EMAIL_CONNECTORS:
        return None
    parts = [first_char]
    while index >= 2:
        gap, previous = tokens[index - 1], tokens[index - 2]
        if gap.text in (".", "_", "-") and previous.kind in ("word", "digits"):
            parts.insert(0, gap.text)
            parts.insert(0, previous.lower)
            index -= 2
            continue
        if (
            gap.text == " "
            and previous.kind == "word"
            and previous.lower in EMAIL_CONNECTORS
            and index >= 4
            and tokens[index - 3].text == " "
        ):
            before = _spoken_char(tokens[index - 4])
            if before is None or before in EMAIL_CONNECTORS:
                break
            parts.insert(0, EMAIL_CONNECTORS[previous.lower])
            parts.insert(0, before)
            index -= 4
            continue
        spelled = _spoken_char(previous)
        if gap.text != " " or spelled is None:
            break
        if len(spelled) == 1 and len(parts[0]) == 1:
            parts.insert(0, spelled)
            index -= 2
            continue
        if spelled.isalpha() and spelled not in _NOT_LOCAL and all(p.isdigit() for p in parts):
            parts.insert(0, spelled)  # "sam one two at ..." -> sam12
            index -= 2
        break
    local = "".join(parts)
    return (index, local) if _LABEL.search(local) else None
