"""Hypothesis strategies for wire messages: random bytes, mutated recordings, JSON in the vendors' words."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from hypothesis import strategies as st

from tests.fuzz.targets import REWRITES, seeds


def _keys_of(value: Any, into: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            into.add(key)
            _keys_of(item, into)
    elif isinstance(value, list):
        for item in value:
            _keys_of(item, into)


@cache
def vocabulary() -> tuple[str, ...]:
    """Every key of every recorded JSON message, so generated messages hit the adapters' real paths."""
    keys: set[str] = set()
    for seed in seeds():
        for line in seed.splitlines() or [seed]:
            try:
                _keys_of(orjson.loads(line), keys)
            except orjson.JSONDecodeError:
                continue
    return tuple(sorted(keys))


TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "AQIBAg==", "@@not base64@@", "4111 1111 1111 1111", "\ud7ff\ue000", "a" * 300]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), TEXT)


def json_values() -> st.SearchStrategy[Any]:
    keys = st.one_of(st.sampled_from(vocabulary()), st.text(max_size=8))
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=6)
        ),
        max_leaves=30,
    )


@st.composite
def mutated(draw: st.DrawFn, pool: Sequence[bytes] | None = None) -> bytes:
    """A recorded message with a few bytes cut, inserted, flipped, or its base64 and UTF-8 broken."""
    data = bytearray(draw(st.sampled_from(list(pool) if pool else seeds())))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["truncate", "insert", "flip", "utf8", "base64", "nest"]))
        if kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "utf8":
            data[at:at] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]))
        elif kind == "base64":
            data = bytearray(bytes(data).replace(b"AQ", b"@*", draw(st.integers(1, 3))))
        elif kind == "nest":
            depth = draw(st.integers(1, 1100))
            data = bytearray(b"[" * depth + bytes(data) + b"]" * depth)
    return bytes(data)


def payloads(pool: Sequence[bytes] = ()) -> st.SearchStrategy[bytes]:
    """Any bytes, weighted toward messages that almost parse: ``pool``, an endpoint's recordings, first."""
    own = [st.sampled_from(list(pool)), mutated(pool), mutated(pool)] if pool else []
    return st.one_of(
        *own, st.binary(max_size=512), mutated(), json_values().map(orjson.dumps), st.sampled_from(seeds())
    )


CUTS = st.lists(st.integers(0, 1 << 16), max_size=6)
REWRITE = st.sampled_from(REWRITES)
