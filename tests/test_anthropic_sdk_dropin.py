"""The official anthropic SDK works unchanged through voiceguard: only its base URL points at the proxy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.conftest import ProxyFactory
from tests.scripted_guards import HoldDigits, Replace, guarded_proxy
from voiceguard import server
from voiceguard.events import AgentText, PromptText, TextDelta, TextRole, ToolCall, Usage
from voiceguard.records import ExchangeFinished
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend, Reply, ToolCallSpec
from voiceguard.testing import RecordingSink

CARD = "4111 1111 1111 1111"


@pytest.fixture
async def proxy(
    make_proxy: ProxyFactory,
    anthropic_upstream: RunningApp,
    openai_upstream: RunningApp,
    observe_disclosure: dict[str, Any],
) -> server.RunningServer:
    return await make_proxy(
        {"anthropic": anthropic_upstream.url, "openai": openai_upstream.url}, **observe_disclosure
    )


def client_for(proxy: server.RunningServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="sk-test", base_url=f"{proxy.url}/anthropic", max_retries=0)


async def test_message_round_trips_with_usage_and_credentials_intact(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    async with client_for(proxy) as client:
        message = await client.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=256,
            system="Be brief.",
            messages=[{"role": "user", "content": "What time is it?"}],
        )
    assert message.content[0].type == "text" and message.content[0].text == "You said: What time is it?"
    assert message.usage.cache_read_input_tokens == 4
    received = backend.received[-1]
    assert (received.path, received.headers["Authorization"]) == ("/v1/messages", "Bearer sk-test")
    assert [(e.role, e.text) for e in recording.events(PromptText)] == [
        (TextRole.SYSTEM, "Be brief."),
        (TextRole.USER, "What time is it?"),
    ]
    assert [e.text for e in recording.events(AgentText)] == ["You said: What time is it?"]
    assert recording.events(Usage)[0].input_tokens == 25
    [finished] = recording.of(ExchangeFinished)
    assert (finished.exchange.info.provider, finished.exchange.info.operation) == ("anthropic", "messages")


async def test_streamed_message_arrives_event_by_event(
    proxy: server.RunningServer, recording: RecordingSink
) -> None:
    async with (
        client_for(proxy) as client,
        client.messages.stream(
            model="claude-sonnet-5-5",
            max_tokens=256,
            messages=[{"role": "user", "content": "tell me a story"}],
        ) as stream,
    ):
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "You said: tell me a story"
    assert len(pieces) == 6
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 6
    assert "".join(e.text for e in recording.events(TextDelta)) == "You said: tell me a story"


async def test_streamed_tool_use_input_arrives_intact_and_is_observed(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    backend.responder = lambda _prompt: Reply(
        tool_calls=(ToolCallSpec("lookup_order", '{"order": "A-1234"}'),)
    )
    async with (
        client_for(proxy) as client,
        client.messages.stream(
            model="claude-sonnet-5-5",
            max_tokens=256,
            tools=[{"name": "lookup_order", "input_schema": {"type": "object"}}],
            messages=[{"role": "user", "content": "where is my order"}],
        ) as stream,
    ):
        final = await stream.get_final_message()
    [block] = final.content
    assert block.type == "tool_use" and block.name == "lookup_order" and block.input == {"order": "A-1234"}
    fragments = recording.events(ToolCall)
    assert "".join(f.arguments for f in fragments) == '{"order": "A-1234"}'
    assert {f.call_id for f in fragments} == {block.id}


async def test_tool_results_sent_back_are_observed_as_tool_text(
    proxy: server.RunningServer, recording: RecordingSink
) -> None:
    async with client_for(proxy) as client:
        await client.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=256,
            messages=[
                {"role": "user", "content": "where is my order"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "lookup_order",
                            "input": {"order": "A-1"},
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "shipped"}],
                },
            ],
        )
    texts = [(e.role, e.text) for e in recording.events(PromptText)]
    assert (TextRole.TOOL, "shipped") in texts
    assert (TextRole.ASSISTANT, '{"order":"A-1"}') in texts


async def test_a_guard_rewrite_reaches_the_vendor_and_the_client(
    tmp_path: Path, anthropic_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    backend.responder = lambda _prompt: Reply(text=f"Card {CARD} noted")
    proxy = await guarded_proxy(
        tmp_path, {"anthropic": anthropic_upstream.url}, recording, Replace(CARD, "[card]")
    )
    try:
        async with client_for(proxy) as client:
            message = await client.messages.create(
                model="claude-sonnet-5-5",
                max_tokens=64,
                messages=[{"role": "user", "content": f"card {CARD}"}],
            )
    finally:
        await proxy.close()
    assert CARD.encode() not in backend.received[-1].body
    assert b'"content":"card [card]"' in backend.received[-1].body
    assert message.content[0].type == "text" and message.content[0].text == "Card [card] noted"


async def test_a_streaming_guard_can_hold_and_release_text_mid_stream(
    tmp_path: Path, anthropic_upstream: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    backend.responder = lambda _prompt: Reply(text=f"Your card is {CARD} okay")
    proxy = await guarded_proxy(tmp_path, {"anthropic": anthropic_upstream.url}, recording, HoldDigits())
    try:
        async with (
            client_for(proxy) as client,
            client.messages.stream(
                model="claude-sonnet-5-5", max_tokens=64, messages=[{"role": "user", "content": "read it"}]
            ) as stream,
        ):
            text = "".join([piece async for piece in stream.text_stream])
    finally:
        await proxy.close()
    assert text == "Your card is #### #### #### #### okay"


AGENT_LLMS = {
    "gpt-4o": {"route": "openai", "model": "gpt-4o"},
    "claude": {"route": "anthropic", "model": "claude-sonnet-5-5"},
}


@pytest.mark.parametrize("llm", ["gpt-4o", "claude"])
async def test_switching_the_agent_from_gpt4o_to_claude_is_one_line(
    llm: str, proxy: server.RunningServer, recording: RecordingSink
) -> None:
    """The agent code below is the same for both; only the line choosing ``AGENT_LLMS[...]`` differs.

    Anthropic serves OpenAI's chat-completions format on its own host, so the openai SDK talks to Claude
    through voiceguard with a different base URL and model, and voiceguard sees the same events.
    """
    choice = AGENT_LLMS[llm]  # <- the one line an operator changes
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=f"{proxy.url}/{choice['route']}/v1", max_retries=0
    ) as llm_client:
        stream = await llm_client.chat.completions.create(
            model=choice["model"], messages=[{"role": "user", "content": "book a table"}], stream=True
        )
        reply = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert reply == "You said: book a table"
    assert "".join(e.text for e in recording.events(TextDelta)) == reply
    assert [e.text for e in recording.events(PromptText)] == ["book a table"]
    [finished] = recording.of(ExchangeFinished)
    assert (finished.exchange.route, finished.exchange.info.operation) == (choice["route"], "chat")
