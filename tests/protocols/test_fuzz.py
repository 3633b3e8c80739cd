"""Every wire parser survives hostile input: property tests over all adapters (see tests/fuzz/targets.py).

Inputs are random bytes, recorded messages with bytes cut, flipped, inserted, nested a thousand deep or
with their base64 and UTF-8 broken, and JSON built from the vendors' own keys; each is fed in random chunks.
The coverage-guided variant of the same targets is ``tests/fuzz/fuzz_protocols.py`` (atheris).
"""

from __future__ import annotations

import os
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
    messages,
)
from voiceguard.protocols import jsonspan

EXAMPLES = int(os.environ.get("VOICEGUARD_FUZZ_EXAMPLES", "30"))
"""Per test and endpoint; the default keeps the suite quick on a shared machine, raise it for a deeper run."""
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(data=st.one_of(st.binary(max_size=2048), payloads()), cuts=CUTS, limit=st.integers(1, 4096))
def test_sse_framing_keeps_every_byte_or_refuses_past_its_limit(
    data: bytes, cuts: list[int], limit: int
) -> None:
    check_sse_splitter(data, cuts, limit)


@pytest.mark.parametrize("endpoint", HTTP_ENDPOINTS, ids=lambda e: f"{e.protocol}{e.path}")
@FUZZ
@given(
    data=st.data(),
    status=st.sampled_from([200, 200, 400, 500]),
    header_values=st.lists(
        st.one_of(st.text(max_size=6), st.sampled_from(["12", "²", "-1", "1e3"])), max_size=4
    ),
    cuts=CUTS,
    rewrite=REWRITE,
)
def test_http_adapters_survive_any_request_and_response(
    endpoint: HttpEndpoint,
    data: st.DataObject,
    status: int,
    header_values: list[str],
    cuts: list[int],
    rewrite: Callable[[str], str],
) -> None:
    body = data.draw(payloads(messages(endpoint.request_seeds)), label="body")
    content_type = data.draw(st.sampled_from([*ANY_CONTENT_TYPE, *(c for c, _ in endpoint.response_seeds)]))
    recorded = [name for c, name in endpoint.response_seeds if c == content_type]
    response = data.draw(payloads(messages(recorded)), label="response")
    check_http(endpoint, body, response, content_type, status, header_values, cuts, rewrite)


ANY_CONTENT_TYPE = ("application/json", "text/event-stream", "audio/mpeg", "", "text/plain")
QUERY = st.lists(
    st.tuples(
        st.sampled_from(["output_format", "model", "key", "diarize", "encoding", "sample_rate", "x"]),
        st.one_of(
            st.text(max_size=12), st.sampled_from(["pcm_²", "mp3_44100_١٢٨", "ulaw_8000", "true", "9" * 5000])
        ),
    ),
    max_size=3,
)


@pytest.mark.parametrize("endpoint", WS_ENDPOINTS, ids=lambda e: f"{e.protocol}{e.path[:40]}")
@FUZZ
@given(data=st.data(), query=QUERY, rewrite=REWRITE)
def test_websocket_adapters_survive_any_frames(
    endpoint: WsEndpoint, data: st.DataObject, query: list[tuple[str, str]], rewrite: Callable[[str], str]
) -> None:
    client = payloads(messages(endpoint.client_seeds))
    upstream = payloads(messages(endpoint.upstream_seeds))
    frames = data.draw(
        st.lists(
            st.one_of(
                st.tuples(st.just(True), st.booleans(), client),
                st.tuples(st.just(False), st.booleans(), upstream),
            ),
            max_size=8,
        ),
        label="frames",
    )
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
