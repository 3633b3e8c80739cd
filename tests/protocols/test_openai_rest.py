"""OpenAI chat completions: recorded messages parse into events and render back byte for byte."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from voiceguard.events import (
    AgentText,
    LLMRequest,
    PromptText,
    ResponseDone,
    ResponseStarted,
    TextDelta,
    TextRole,
    ToolCall,
    UpstreamError,
    Usage,
)
from voiceguard.protocols.base import RequestHead
from voiceguard.protocols.openai_rest import (
    ChatCompletionsCodec,
    ChatJsonCodec,
    ChatStreamCodec,
    OpenAIAdapter,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"


def head(path: str = "/v1/chat/completions") -> RequestHead:
    return RequestHead("POST", path, MultiDictProxy(MultiDict()), CIMultiDictProxy(CIMultiDict()))


def test_adapter_recognises_chat_and_relays_the_rest() -> None:
    adapter = OpenAIAdapter()
    assert adapter.http(head()) is not None
    assert adapter.http(head("/v1/models")) is None


def test_request_texts_are_found_with_roles() -> None:
    codec = ChatCompletionsCodec()
    events = codec.request_events(head(), (FIXTURES / "chat_request.json").read_bytes())
    assert events[0] == LLMRequest(model="gpt-4o-mini", stream=True, message_count=4, tool_names=("lookup",))
    texts = [(e.role, e.text) for e in events if isinstance(e, PromptText)]
    assert texts == [
        (TextRole.SYSTEM, "You are a billing agent."),
        (TextRole.USER, "My card is 4111 1111 1111 1111"),
        (TextRole.ASSISTANT, '{"last4": "1111"}'),
        (TextRole.TOOL, "found"),
    ]


def test_request_rewrite_changes_only_that_text() -> None:
    raw = (FIXTURES / "chat_request.json").read_bytes()
    codec = ChatCompletionsCodec()
    events = codec.request_events(head(), raw)
    out = [
        dataclasses.replace(e, text="My card is <CREDIT_CARD_1>")
        if isinstance(e, PromptText) and "4111" in e.text
        else e
        for e in events
    ]
    edit = codec.render_request(out)
    assert edit.body == raw.replace(b"4111 1111 1111 1111", b"<CREDIT_CARD_1>")


def test_untouched_request_is_not_rewritten() -> None:
    codec = ChatCompletionsCodec()
    events = codec.request_events(head(), (FIXTURES / "chat_request.json").read_bytes())
    assert codec.render_request(events).body is None


def _stream_units(data: bytes, chunk: int = 37) -> list:
    codec = ChatStreamCodec()
    units = []
    for offset in range(0, len(data), chunk):
        units.extend(codec.feed(data[offset : offset + chunk]))
    units.extend(codec.end())
    return units


def test_stream_parses_into_deltas_tool_calls_usage_and_done() -> None:
    units = _stream_units((FIXTURES / "chat_stream.sse").read_bytes())
    events = [e for u in units for e in u.events]
    kinds = [type(e) for e in events]
    assert kinds == [
        ResponseStarted,
        TextDelta,
        TextDelta,
        TextDelta,
        ToolCall,
        ToolCall,
        AgentText,
        Usage,
        ResponseDone,
    ]
    assert events[-3] == AgentText("Your card ends in 1111.", "choice0")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Your card ends in 1111."
    assert [e.arguments for e in events if isinstance(e, ToolCall)] == ["", '{"amount": 20}']
    assert events[-2] == Usage(
        model="gpt-4o-mini-2024-07-18",
        input_tokens=31,
        output_tokens=12,
        cached_input_tokens=0,
        audio_input_tokens=0,
        audio_output_tokens=0,
    )
    assert events[-1] == ResponseDone("chatcmpl-C1", "completed", "tool_calls")


def test_stream_renders_a_changed_delta_in_place_and_keeps_every_other_byte() -> None:
    raw = (FIXTURES / "chat_stream.sse").read_bytes()
    codec = ChatStreamCodec()
    out = b""
    for unit in codec.feed(raw) + codec.end():
        events = [
            dataclasses.replace(e, text=e.text.replace("1111", "####")) if isinstance(e, TextDelta) else e
            for e in unit.events
        ]
        changed = any(a is not b for a, b in zip(unit.events, events, strict=True))
        out += codec.render(unit, events) if changed else unit.raw
    assert out == raw.replace(b'"ends in 1111."', b'"ends in ####."')


def test_held_text_is_released_as_a_chunk_shaped_like_its_neighbours() -> None:
    codec = ChatStreamCodec()
    units = codec.feed((FIXTURES / "chat_stream.sse").read_bytes())
    delta_unit = next(
        u for u in units if any(isinstance(e, TextDelta) and e.text == "Your card " for e in u.events)
    )
    held = [dataclasses.replace(e, text="") if isinstance(e, TextDelta) else e for e in delta_unit.events]
    assert b'"content":""' in codec.render(delta_unit, held)
    done_unit = units[-1]
    released = codec.render(done_unit, [TextDelta("Your card ", "choice0"), *done_unit.events])
    first, rest = released.split(b"\n\n", 1)
    chunk = orjson.loads(first.removeprefix(b"data: "))
    assert chunk["choices"][0]["delta"]["content"] == "Your card "
    assert chunk["id"] == "chatcmpl-C1" and chunk["object"] == "chat.completion.chunk"
    assert rest == b"data: [DONE]\n\n"


def test_held_tool_arguments_are_released_as_a_tool_call_chunk() -> None:
    codec = ChatStreamCodec()
    units = codec.feed((FIXTURES / "chat_stream.sse").read_bytes())
    done_unit = units[-1]
    tail = ToolCall(None, '"}', complete=False, stream="choice0.tool1")
    released = codec.render(done_unit, [tail, *done_unit.events])
    first, rest = released.split(b"\n\n", 1)
    chunk = orjson.loads(first.removeprefix(b"data: "))
    assert chunk["choices"][0]["index"] == 0 and chunk["id"] == "chatcmpl-C1"
    assert chunk["choices"][0]["delta"]["tool_calls"] == [{"index": 1, "function": {"arguments": '"}'}}]
    assert rest == b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    "raw",
    [
        b"data: {not json\n\n",
        b"data: \xff\xfe\n\n",
        b'data: {"choices": "nope"}\n\n',
        b"event: ping\n\n",
        b"data: 42\n\n",
    ],
)
def test_malformed_stream_events_pass_through_untouched(raw: bytes) -> None:
    codec = ChatStreamCodec()
    units = codec.feed(raw)
    assert b"".join(u.raw for u in units) == raw


def test_mid_stream_error_becomes_an_upstream_error_event() -> None:
    codec = ChatStreamCodec()
    [unit] = codec.feed(
        b'data: {"error": {"message": "overloaded", "type": "server_error", "code": "503"}}\n\n'
    )
    assert unit.events == [UpstreamError(code="503", message="", error_type="server_error")]


def test_stream_cut_short_reports_an_incomplete_response() -> None:
    codec = ChatStreamCodec()
    codec.feed(b'data: {"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n')
    [end] = codec.end()
    assert end.events == [ResponseDone("c", "incomplete", None)]


def test_json_reply_parses_and_renders() -> None:
    body = orjson.dumps(
        {
            "id": "chatcmpl-1",
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Call me at 555 0100"},
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4},
        }
    )
    codec = ChatJsonCodec()
    assert codec.feed(body) == []
    [unit] = codec.end()
    reply = next(e for e in unit.events if isinstance(e, AgentText))
    assert reply.text == "Call me at 555 0100"
    out = [dataclasses.replace(e, text="Call me at <PHONE>") if e is reply else e for e in unit.events]
    assert orjson.loads(codec.render(unit, out))["choices"][0]["message"]["content"] == "Call me at <PHONE>"
