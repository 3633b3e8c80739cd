"""Guards rewrite, hold and release text through a real adapter, and report decisions to the sinks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import openai
import pytest

from tests.engines import shared_engine
from voiceguard.events import Event, PolicyDecision, PromptText, ResponseDone, TextDelta
from voiceguard.guards.base import Blocked, GuardChain, GuardContext
from voiceguard.records import DecisionMade
from voiceguard.server import RunningServer, start
from voiceguard.session import Call
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend
from voiceguard.testing import RecordingSink, guard_context, settings_for


class ShoutAndHold:
    """Upper-cases prompts; holds every reply delta back and releases it all before the end."""

    name = "shout-and-hold"

    def __init__(self) -> None:
        self.held = ""

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, PromptText):
            yield dataclasses.replace(event, text=event.text.upper())
            yield PolicyDecision("TEST-SHOUT", "enforce", "rewritten", counts=(("prompts", 1),))
        elif isinstance(event, TextDelta):
            self.held += event.text
            yield dataclasses.replace(event, text="")
        elif isinstance(event, ResponseDone) and self.held:
            yield TextDelta(self.held, "choice0")
            self.held = ""
            yield event
        else:
            yield event


class Refuse:
    name = "refuse"

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, PromptText) and "forbidden" in event.text:
            raise Blocked("TEST-BLOCK", "this request is refused by policy", status=451)
        yield event


@pytest.fixture
async def guarded(tmp_path, openai_upstream: RunningApp, recording: RecordingSink):  # type: ignore[no-untyped-def]
    servers: list[RunningServer] = []

    async def factory(*guards: object) -> RunningServer:
        settings = settings_for({"openai": openai_upstream.url}, tmp_path / "data")
        server = await start(
            settings,
            extra_sinks=[recording],
            guards=list(guards),  # type: ignore[arg-type]
            pii_engine=shared_engine(settings),
        )
        servers.append(server)
        return server

    yield factory
    for server in servers:
        await server.close()


async def test_rewritten_prompt_reaches_upstream_and_held_text_is_released(
    guarded, backend: Backend, recording: RecordingSink
) -> None:  # type: ignore[no-untyped-def]
    proxy = await guarded(ShoutAndHold())
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "quiet please"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "You said: QUIET PLEASE"
    assert b'"QUIET PLEASE"' in backend.received[-1].body
    decisions = recording.of(DecisionMade)
    assert [d.decision.rule_id for d in decisions] == ["TEST-SHOUT"]


async def test_a_block_becomes_the_contracts_error_and_is_recorded(
    guarded, backend: Backend, recording: RecordingSink
) -> None:  # type: ignore[no-untyped-def]
    proxy = await guarded(Refuse())
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0
    ) as client:
        with pytest.raises(openai.APIStatusError) as refused:
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "forbidden words"}]
            )
    assert refused.value.status_code == 451
    assert [d.decision.rule_id for d in recording.of(DecisionMade)] == ["TEST-BLOCK"]
    assert refused.value.body == {
        "type": "policy_violation",
        "message": "this request is refused by policy",
        "policy": "TEST-BLOCK",
    }
    assert backend.received == []


def test_chain_without_guards_returns_the_same_events() -> None:
    events: list[Event] = [TextDelta("hi")]
    result = GuardChain([]).process(guard_context(), events)
    assert result.events is events and result.reports == []


def test_chain_feeds_each_guard_the_previous_guards_output() -> None:
    chain = GuardChain([ShoutAndHold(), ShoutAndHold()])
    result = chain.process(guard_context(), [PromptText("abc")])
    assert [e.text for e in result.events] == ["ABC"]  # type: ignore[union-attr]
    assert len(result.reports) == 2
