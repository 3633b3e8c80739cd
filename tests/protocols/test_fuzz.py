"""Every wire parser survives hostile input: property tests over all adapters (see tests/fuzz/targets.py).

Inputs are random bytes, recorded messages with bytes cut, flipped, inserted, nested a thousand deep or
with their base64 and UTF-8 broken, and JSON built from the vendors' own keys; each is fed in random chunks.
The coverage-guided variant of the same targets is ``tests/fuzz/fuzz_protocols.py`` (atheris).
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import CUTS, REWRITE, json_values, payloads
from tests.fuzz.targets import (
    HTTP_ENDPOINTS,
    WS_ENDPOINTS,
    HttpEndpoint,
    WsEndpoint,
    check_http,
    check_sse_splitter,
    check_websocket,
)
from voiceguard.protocols import jsonspan

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.one_of(st.binary(max_size=2048), payloads()), cuts=CUTS, limit=st.integers(1, 4096))
def test_sse_framing_keeps_every_byte_or_refuses_past_its_limit(
    data: bytes, cuts: list[int], limit: int
) -> None:
    check_sse_splitter(data, cuts, limit)


@pytest.mark.parametrize("endpoint", HTTP_ENDPOINTS, ids=lambda e: f"{e.protocol}{e.path}")
@FUZZ
@given(
    body=payloads(),
    response=payloads(),
    content_type=st.sampled_from(["application/json", "text/event-stream", "audio/mpeg", "", "text/plain"]),
    status=st.sampled_from([200, 200, 400, 500]),
    header_values=st.lists(
        st.one_of(st.text(max_size=6), st.sampled_from(["12", "²", "-1", "1e3"])), max_size=4
    ),
    cuts=CUTS,
    rewrite=REWRITE,
    seeded=st.booleans(),
)
def test_http_adapters_survive_any_request_and_response(
    endpoint: HttpEndpoint,
    body: bytes,
    response: bytes,
    content_type: str,
    status: int,
    header_values: list[str],
    cuts: list[int],
    rewrite: Callable[[str], str],
    seeded: bool,
) -> None:
    if seeded and endpoint.response_seeds:
        content_type = endpoint.response_seeds[len(response) % len(endpoint.response_seeds)][0]
    check_http(endpoint, body, response, content_type, status, header_values, cuts, rewrite)


FRAMES = st.lists(st.tuples(st.booleans(), st.booleans(), payloads()), max_size=6)


@pytest.mark.parametrize("endpoint", WS_ENDPOINTS, ids=lambda e: f"{e.protocol}{e.path[:40]}")
@FUZZ
@given(
    frames=FRAMES,
    query=st.lists(
        st.tuples(
            st.sampled_from(["output_format", "model", "key", "x"]),
            st.one_of(st.text(max_size=12), st.sampled_from(["pcm_²", "mp3_44100_١٢٨", "ulaw_8000", "pcm_"])),
        ),
        max_size=3,
    ),
    rewrite=REWRITE,
)
def test_websocket_adapters_survive_any_frames(
    endpoint: WsEndpoint,
    frames: list[tuple[bool, bool, bytes]],
    query: list[tuple[str, str]],
    rewrite: Callable[[str], str],
) -> None:
    check_websocket(endpoint, frames, query, rewrite)


PATH_STEPS = st.lists(
    st.one_of(st.sampled_from(["a", "text", "delta", "content"]), st.integers(0, 3)), max_size=4
)


@FUZZ
@given(raw=st.one_of(payloads(), st.binary(max_size=256)), path=PATH_STEPS, value=json_values())
def test_jsonspan_raises_only_its_own_error_on_any_bytes(
    raw: bytes, path: list[str | int], value: object
) -> None:
    try:
        jsonspan.find(raw, tuple(path))
        if path:
            jsonspan.edit(raw, [(tuple(path), value)])
    except ValueError:  # JsonSpanError, or orjson's JSONDecodeError (a ValueError) for a broken key
        pass


@FUZZ
@given(document=json_values(), path=PATH_STEPS, value=json_values())
def test_jsonspan_edits_valid_json_exactly_where_the_path_points(
    document: object, path: list[str | int], value: object
) -> None:
    raw = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    steps = tuple(path)
    try:
        jsonspan.find(raw, steps)
    except jsonspan.JsonSpanError:
        return
    if not steps:
        return
    edited = orjson.loads(jsonspan.edit(raw, [(steps, value)]))
    target = edited
    for step in steps:
        target = target[step]
    assert target == orjson.loads(orjson.dumps(value))
