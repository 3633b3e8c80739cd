"""OpenAI Responses API: recorded requests and replies parse into events and render back byte for byte."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from voiceguard.events import (
    AgentText,
    Event,
    LLMRequest,
    PromptText,
    ResponseDone,
    ResponseStarted,
    TextDelta,
    TextRole,
    ToolCall,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols.base import RequestHead, StreamCodec, WireUnit
from voiceguard.protocols.openai_responses import ResponseJsonCodec, ResponsesCodec, ResponseStreamCodec
from voiceguard.protocols.openai_rest import OpenAIAdapter

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"


def head(path: str = "/v1/responses") -> RequestHead:
    return RequestHead("POST", path, MultiDictProxy(MultiDict()), CIMultiDictProxy(CIMultiDict()))


def feed_all(codec: StreamCodec, data: bytes, chunk: int = 41) -> list[WireUnit]:
    units: list[WireUnit] = []
    for offset in range(0, len(data), chunk):
        units.extend(codec.feed(data[offset : offset + chunk]))
    return units + codec.end()


def rewrite(events: list[Event], old: str, new: str) -> list[Event]:
    return [
        dataclasses.replace(e, text=e.text.replace(old, new)) if isinstance(e, TextDelta | AgentText) else e
        for e in events
    ]


REQUEST = orjson.dumps(
    {
        "model": "gpt-4.1-mini",
        "instructions": "You are a billing agent.",
        "input": [
            {"role": "user", "content": "My card is 4111 1111 1111 1111"},
            {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"card": "4111"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "active"},
            {"role": "user", "content": [{"type": "input_text", "text": "and my SSN 078-05-1120?"}]},
        ],
        "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
        "stream": True,
    },
    option=orjson.OPT_INDENT_2,
)


def test_adapter_routes_responses() -> None:
    assert isinstance(OpenAIAdapter().http(head()), ResponsesCodec)


def test_request_texts_are_found_with_roles_and_rewritten_in_place() -> None:
    codec = ResponsesCodec()
    events = codec.request_events(head(), REQUEST)
    assert events[0] == LLMRequest("gpt-4.1-mini", True, 4, ("lookup",))
    assert [(e.role, e.text) for e in events if isinstance(e, PromptText)] == [
        (TextRole.INSTRUCTIONS, "You are a billing agent."),
        (TextRole.USER, "My card is 4111 1111 1111 1111"),
        (TextRole.ASSISTANT, '{"card": "4111"}'),
        (TextRole.TOOL, "active"),
        (TextRole.USER, "and my SSN 078-05-1120?"),
    ]
    out = [
        dataclasses.replace(e, text=e.text.replace("078-05-1120", "<SSN>"))
        if isinstance(e, PromptText)
        else e
        for e in events
    ]
    assert codec.render_request(out).body == REQUEST.replace(b"078-05-1120", b"<SSN>")
    assert codec.render_request(events).body is None


def test_a_plain_string_input_is_one_user_prompt() -> None:
    codec = ResponsesCodec()
    events = codec.request_events(head(), b'{"model": "m", "input": "hello"}')
    assert events[1:] == [PromptText("hello", TextRole.USER)]


def test_stream_parses_into_the_reply_and_its_summary() -> None:
    units = feed_all(ResponseStreamCodec(), (FIXTURES / "responses_stream.sse").read_bytes())
    events = [e for u in units for e in u.events]
    assert isinstance(events[0], ResponseStarted) and events[0].model == "gpt-4.1-mini"
    reply = "You said: My card is 4111 1111 1111 1111"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == reply
    assert {e.text for e in events if isinstance(e, AgentText)} == {"", reply}
    assert Usage("gpt-4.1-mini", 14, 9, None, None, 0) in events
    assert events[-1] == ResponseDone(events[0].response_id, "completed", None)
    assert not [e for e in events if isinstance(e, WireAnomaly)]


def test_stream_rewrite_changes_deltas_and_summaries_and_nothing_else() -> None:
    raw = (FIXTURES / "responses_stream.sse").read_bytes()
    codec = ResponseStreamCodec()
    out = b""
    for unit in feed_all(codec, raw):
        events = rewrite(unit.events, "4111", "####")
        changed = any(a is not b for a, b in zip(unit.events, events, strict=True))
        out += codec.render(unit, events) if changed else unit.raw
    assert out == raw.replace(b"4111", b"####")


def test_released_text_follows_the_shape_and_event_name_of_its_stream() -> None:
    codec = ResponseStreamCodec()
    units = feed_all(codec, (FIXTURES / "responses_stream.sse").read_bytes())
    delta = next(e for u in units for e in u.events if isinstance(e, TextDelta))
    last = units[-1]
    released = codec.render(last, [TextDelta("tail", delta.stream), *last.events])
    first = released.split(b"\n\n", 1)[0]
    assert first.startswith(b"event: response.output_text.delta\ndata: ")
    body = orjson.loads(first.split(b"data: ", 1)[1])
    assert (body["delta"], body["item_id"]) == ("tail", delta.stream)


def test_json_reply_parses_and_renders() -> None:
    raw = (FIXTURES / "responses.json").read_bytes()
    codec = ResponseJsonCodec()
    assert codec.feed(raw) == []
    [unit] = codec.end()
    assert [type(e) for e in unit.events] == [ResponseStarted, AgentText, Usage, ResponseDone]
    assert codec.render(unit, rewrite(unit.events, "4111", "####")) == raw.replace(b"4111", b"####")


def test_function_call_events_and_failures() -> None:
    codec = ResponseStreamCodec()
    stream = b"".join(
        b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **body}) + b"\n\n"
        for kind, body in [
            ("response.function_call_arguments.delta", {"item_id": "fc_1", "delta": '{"a"'}),
            (
                "response.function_call_arguments.done",
                {"item_id": "fc_1", "name": "f", "arguments": '{"a":1}'},
            ),
            (
                "response.failed",
                {"response": {"id": "r", "status": "failed", "error": {"code": "server_error"}}},
            ),
        ]
    )
    events = [e for u in feed_all(codec, stream) for e in u.events]
    assert events[:2] == [
        ToolCall(None, '{"a"', None, False, "fc_1"),
        ToolCall("f", '{"a":1}', None, True, "fc_1"),
    ]
    assert events[-1] == ResponseDone("r", "failed", None)


@pytest.mark.parametrize("raw", [b"data: {oops\n\n", b"data: [1]\n\n"])
def test_malformed_events_pass_untouched_and_are_counted(raw: bytes) -> None:
    codec = ResponseStreamCodec()
    [unit] = codec.feed(raw)
    assert unit.raw == raw and [type(e) for e in unit.events] == [WireAnomaly]


def test_unknown_event_types_pass_through_without_events() -> None:
    codec = ResponseStreamCodec()
    [unit] = codec.feed(
        b'event: response.web_search_call.searching\ndata: {"type": "response.web_search_call.searching"}\n\n'
    )
    assert unit.events == []


def test_a_stream_cut_short_reports_an_incomplete_response() -> None:
    codec = ResponseStreamCodec()
    codec.feed(b'data: {"type": "response.output_text.delta", "item_id": "m", "delta": "hi"}\n\n')
    [end] = codec.end()
    assert end.events == [ResponseDone(None, "incomplete")]
