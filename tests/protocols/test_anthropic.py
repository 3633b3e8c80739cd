"""Anthropic Messages: recorded requests, replies and streams parse into events and render back faithfully."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.protocols.wire import events_of, head, render_all, replaced, units_of
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
    WireAnomaly,
)
from voiceguard.protocols.anthropic import (
    AnthropicAdapter,
    CompatChatCodec,
    MessagesCodec,
    MessagesStreamCodec,
    message_events,
)
from voiceguard.protocols.bufferedjson import BufferedJsonCodec

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"
CARD = "4111 1111 1111 1111"


def test_adapter_recognises_messages_count_tokens_and_the_openai_compatible_chat() -> None:
    adapter = AnthropicAdapter()
    assert isinstance(adapter.http(head("POST", "/v1/messages")), MessagesCodec)
    assert adapter.http(head("POST", "/v1/messages/count_tokens")) is not None
    assert isinstance(adapter.http(head("POST", "/v1/chat/completions")), CompatChatCodec)
    assert adapter.http(head("GET", "/v1/models")) is None
    assert adapter.http(head("POST", "/v1/messages/batches")) is None


def test_request_texts_are_found_in_system_blocks_messages_tool_use_and_tool_results() -> None:
    codec = MessagesCodec()
    events = codec.request_events(
        head("POST", "/v1/messages"), (FIXTURES / "messages_request.json").read_bytes()
    )
    assert events[0] == LLMRequest(
        model="claude-sonnet-4-5", stream=True, message_count=3, tool_names=("lookup",)
    )
    texts = [(e.role, e.text) for e in events if isinstance(e, PromptText)]
    assert texts == [
        (TextRole.SYSTEM, "You are a billing agent."),
        (TextRole.USER, f"My card is {CARD}"),
        (TextRole.ASSISTANT, "Let me check."),
        (TextRole.ASSISTANT, '{"card": "4111 1111 1111 1111"}'),
        (TextRole.TOOL, "balance é 12"),
    ]


def test_request_rewrite_changes_only_the_rewritten_bytes_including_tool_input_objects() -> None:
    raw = (FIXTURES / "messages_request.json").read_bytes()
    codec = MessagesCodec()
    events = codec.request_events(head("POST", "/v1/messages"), raw)
    edit = codec.render_request(replaced(events, CARD, "<CARD_1>"))
    assert edit.body == raw.replace(CARD.encode(), b"<CARD_1>")
    assert orjson.loads(edit.body)["messages"][1]["content"][1]["input"] == {"card": "<CARD_1>"}


def test_untouched_request_is_forwarded_as_it_came() -> None:
    codec = MessagesCodec()
    events = codec.request_events(
        head("POST", "/v1/messages"), (FIXTURES / "messages_request.json").read_bytes()
    )
    assert codec.render_request(events).body is None


def test_malformed_request_is_counted_not_parsed() -> None:
    codec = MessagesCodec()
    assert codec.request_events(head("POST", "/v1/messages"), b'{"messages": [') == [WireAnomaly("bad_json")]
    assert codec.request_events(head("POST", "/v1/messages"), b"[]") == [WireAnomaly("not_an_object")]


def test_json_reply_gives_text_tool_call_usage_with_cache_tokens_and_done() -> None:
    raw = (FIXTURES / "messages_response.json").read_bytes()
    events = message_events(orjson.loads(raw), raw, 1)
    assert events[0] == ResponseStarted("msg_01XFDUDYJgAACzvnptvVoYEL", "claude-sonnet-4-5")
    assert events[1] == AgentText(f"Your card {CARD} is active.", "block0")
    assert events[2] == ToolCall(
        "notify", '{"card": "4111 1111 1111 1111", "n": 1}', "toolu_02", stream="block1"
    )
    assert events[3] == Usage(
        model="claude-sonnet-4-5", input_tokens=17, output_tokens=30, cached_input_tokens=5
    )
    assert events[4] == ResponseDone("msg_01XFDUDYJgAACzvnptvVoYEL", finish_reason="tool_use")


def test_json_reply_rewrite_splices_text_and_tool_input() -> None:
    raw = (FIXTURES / "messages_response.json").read_bytes()
    codec = BufferedJsonCodec(message_events)
    codec.feed(raw)
    [unit] = codec.end()
    out = codec.render(unit, replaced(unit.events, CARD, "[card]"))
    assert out == raw.replace(CARD.encode(), b"[card]")


def test_stream_events_map_to_started_deltas_tool_fragments_usage_and_done() -> None:
    units = units_of(MessagesStreamCodec(), (FIXTURES / "messages_stream.sse").read_bytes())
    events = events_of(units)
    assert events[0] == ResponseStarted("msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "claude-sonnet-4-5")
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "Your card 4111",
        " 1111 1111 1111 is fine.",
    ]
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.name, c.arguments, c.complete) for c in calls] == [
        ("get_weather", "", False),
        ("get_weather", '{"location": "San Fra', False),
        ("get_weather", 'ncisco"}', False),
    ]
    assert {c.call_id for c in calls} == {"toolu_01T1x1fJ34qAmk2tNTrN7Up6"}
    [usage] = [e for e in events if isinstance(e, Usage)]
    assert usage == Usage(model="claude-sonnet-4-5", input_tokens=28, output_tokens=89, cached_input_tokens=3)
    assert events[-1] == ResponseDone("msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "completed", "tool_use")


def test_stream_rewrite_changes_only_the_rewritten_bytes() -> None:
    data = (FIXTURES / "messages_stream.sse").read_bytes()
    codec = MessagesStreamCodec()
    units = units_of(codec, data)
    assert render_all(codec, units, "San Fra", "Some Pla") == data.replace(b"San Fra", b"Some Pla")
    assert b"".join(unit.raw for unit in units) == data


def test_text_held_by_a_guard_is_released_as_a_delta_shaped_like_its_neighbours() -> None:
    codec = MessagesStreamCodec()
    units = units_of(codec, (FIXTURES / "messages_stream.sse").read_bytes())
    first = next(u for u in units if any(isinstance(e, TextDelta) and "4111" in e.text for e in u.events))
    second = units[units.index(first) + 1]
    held = codec.render(first, [])
    released = TextDelta("Your card [card] is fine.", "block0")
    rest = codec.render(second, [released])
    assert b'"text":""' in held
    assert rest.startswith(
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Your card [card] is fine."}}\n\n'
    )
    assert rest.endswith(b'"text":""}}\n\n')


def test_malformed_and_unknown_stream_events_pass_untouched_and_are_counted() -> None:
    data = (FIXTURES / "malformed_stream.sse").read_bytes()
    codec = MessagesStreamCodec()
    units = units_of(codec, data, chunk=11)
    assert b"".join(unit.raw for unit in units) == data
    events = events_of(units)
    anomalies = [e.kind for e in events if isinstance(e, WireAnomaly)]
    assert anomalies == ["bad_json", "missing_field", "missing_field", "not_an_object"]
    assert UpstreamError(code="overloaded_error", message="", error_type="overloaded_error") in events
    assert isinstance(events[-1], ResponseDone) and events[-1].status == "failed"
    assert not any(isinstance(e, TextDelta) for e in events)
