"""PII end to end: the real openai SDK through a live voiceguard to the simulated OpenAI API.

The simulator echoes the last user message ("You said: …") and can answer with a tool call, so each test
checks both sides: what reached the vendor (``backend.received``) and what the client got back.
"""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import ProxyFactory
from voiceguard.records import DecisionMade, EventObserved
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend, Reply, ToolCallSpec
from voiceguard.telemetry.logging import configure_logging
from voiceguard.testing import RecordingSink

CARD = "4111 1111 1111 1111"
SPOKEN_CARD = "four one one one one one one one one one one one one one one one"


def client(proxy_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=f"{proxy_url}/openai/v1", max_retries=0)


async def stream_reply(proxy_url: str, messages: list[dict[str, Any]], **headers: str) -> tuple[str, str]:
    """The streamed reply text and the concatenated tool-call arguments the client received."""
    async with client(proxy_url) as sdk:
        stream = await sdk.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            stream=True,
            extra_headers=headers,  # type: ignore[arg-type]
        )
        text, arguments = "", ""
        async for chunk in stream:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            text += delta.content or ""
            for call in delta.tool_calls or []:
                arguments += (call.function.arguments or "") if call.function else ""
    return text, arguments


def upstream_prompt(backend: Backend) -> str:
    body = json.loads(backend.received[-1].body)
    return "\n".join(str(message["content"]) for message in body["messages"])


@pytest.fixture
async def pii_proxy(  # type: ignore[no-untyped-def]
    make_proxy: ProxyFactory, openai_upstream: RunningApp, observe_disclosure: dict[str, Any]
):
    async def factory(**pii: Any):  # type: ignore[no-untyped-def]
        return await make_proxy({"openai": openai_upstream.url}, pii=pii, **observe_disclosure)

    return factory


async def test_written_card_reaches_the_vendor_as_a_placeholder_and_comes_back_real(
    pii_proxy, backend: Backend, recording: RecordingSink
) -> None:  # type: ignore[no-untyped-def]
    proxy = await pii_proxy()
    text, _ = await stream_reply(proxy.url, [{"role": "user", "content": f"my card is {CARD} thanks"}])
    assert upstream_prompt(backend) == "my card is <CREDIT_CARD_1> thanks"
    assert CARD not in backend.received[-1].body.decode()
    assert text == f"You said: my card is {CARD} thanks"
    decisions = [record.decision for record in recording.of(DecisionMade)]
    assert ("pseudonymize", (("CREDIT_CARD", 1),)) in [(d.action, d.counts) for d in decisions]
    assert ("restore", (("CREDIT_CARD", 1),)) in [(d.action, d.counts) for d in decisions]


async def test_spoken_card_is_pseudonymised_and_restored_word_for_word(pii_proxy, backend: Backend) -> None:  # type: ignore[no-untyped-def]
    proxy = await pii_proxy()
    prompt = f"sure, my card number is {SPOKEN_CARD}"
    text, _ = await stream_reply(proxy.url, [{"role": "user", "content": prompt}])
    assert upstream_prompt(backend) == "sure, my card number is <CREDIT_CARD_1>"
    assert text == f"You said: {prompt}"


def charge_with_what_the_vendor_saw(prompt: str) -> Reply:
    """The simulated model calls a tool with the card reference it was given (a placeholder, if any)."""
    reference = prompt[prompt.index("<") : prompt.index(">") + 1] if "<" in prompt else "none"
    return Reply(tool_calls=(ToolCallSpec("charge_card", json.dumps({"card": reference, "amount": 20})),))


async def test_streamed_tool_call_arguments_get_the_real_number_back(pii_proxy, backend: Backend) -> None:  # type: ignore[no-untyped-def]
    backend.responder = charge_with_what_the_vendor_saw
    proxy = await pii_proxy()
    _, arguments = await stream_reply(proxy.url, [{"role": "user", "content": f"charge {CARD} please"}])
    assert json.loads(arguments) == {"card": CARD, "amount": 20}
    assert CARD not in backend.received[-1].body.decode()


async def test_complete_reply_and_tool_call_are_restored(pii_proxy, backend: Backend) -> None:  # type: ignore[no-untyped-def]
    proxy = await pii_proxy()
    async with client(proxy.url) as sdk:
        completion = await sdk.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"card {CARD}"}]
        )
        backend.responder = charge_with_what_the_vendor_saw
        with_tool = await sdk.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"card {CARD}"}]
        )
    assert completion.choices[0].message.content == f"You said: card {CARD}"
    [call] = with_tool.choices[0].message.tool_calls or []
    assert json.loads(call.function.arguments)["card"] == CARD  # type: ignore[union-attr]
    assert all(CARD not in received.body.decode() for received in backend.received)


async def test_block_mode_refuses_with_the_contracts_error(pii_proxy, backend: Backend) -> None:  # type: ignore[no-untyped-def]
    proxy = await pii_proxy(modes={"llm": {"CREDIT_CARD": "block"}})
    async with client(proxy.url) as sdk:
        with pytest.raises(openai.APIStatusError) as refused:
            await sdk.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"card {CARD}"}]
            )
    assert refused.value.status_code == 403
    assert isinstance(refused.value.body, dict)
    assert refused.value.body["type"] == "policy_violation" and refused.value.body["policy"] == "PII"
    assert "CREDIT_CARD" in refused.value.body["message"] and "4111" not in refused.value.body["message"]
    assert backend.received == []


async def test_analysis_that_times_out_masks_the_text_and_is_counted(
    pii_proxy, backend: Backend, recording: RecordingSink
) -> None:  # type: ignore[no-untyped-def]
    proxy = await pii_proxy(analysis_timeout_ms=0.000001, chunk_chars=200)
    long_prompt = ("I would like to talk about my account and the last bill I got. " * 5) + f"card {CARD}"
    await stream_reply(proxy.url, [{"role": "user", "content": long_prompt}])
    sent = upstream_prompt(backend)
    assert "4111" not in sent and "account" not in sent
    assert sent == "".join("*" if ch.isalnum() else ch for ch in long_prompt)
    # the prompt, and the reply echoing it, each fail to analyse in time: both are masked, never raw
    failures = [r.decision for r in recording.of(DecisionMade) if r.decision.action == "fail_closed"]
    assert failures
    assert all(f.outcome == "masked" and ("reason", "timeout") in f.evidence for f in failures)
    async with aiohttp.ClientSession() as session, session.get(f"{proxy.url}/_voiceguard/metrics") as got:
        metrics = await got.text()
    [counter] = [line for line in metrics.splitlines() if line.startswith("voiceguard_pii_analysis_failures")]
    assert 'voiceguard_pii_reason="timeout"' in counter and float(counter.split()[-1]) >= 1


async def test_card_split_across_two_messages_never_reaches_the_vendor_whole(
    pii_proxy, backend: Backend
) -> None:  # type: ignore[no-untyped-def]
    proxy = await pii_proxy()
    messages = [
        {"role": "assistant", "content": "What is the long number on your card?"},
        {"role": "user", "content": "it's 4111 1111"},
        {"role": "user", "content": "1111 1111"},
    ]
    await stream_reply(proxy.url, messages)
    sent = upstream_prompt(backend)
    assert "1111" not in sent
    assert sent.splitlines()[1:] == ["it's <CREDIT_CARD_1>", "<CREDIT_CARD_2>"]


async def test_nothing_raw_reaches_the_logs_or_the_record_redactor_output(
    pii_proxy, backend: Backend, recording: RecordingSink
) -> None:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    try:
        proxy = await pii_proxy()
        await stream_reply(
            proxy.url,
            [{"role": "user", "content": f"I'm Jane Doe, card {CARD}, mail jane.doe@example.com"}],
            **{"X-VoiceGuard-Call-Id": "call-pii-logs"},
        )
        failing = await pii_proxy(analysis_timeout_ms=0.000001, chunk_chars=200)
        await stream_reply(failing.url, [{"role": "user", "content": ("words " * 60) + CARD}])
    finally:
        configure_logging("info", "json")
    logged = stream.getvalue()
    assert "pii_analysis_failed" in logged
    for raw in ("4111", "Jane", "jane.doe", "example.com"):
        assert raw not in logged
    redactor = proxy.runtime.redactor
    texts = [getattr(r.event, "text", "") for r in recording.of(EventObserved)]
    recorded = "\n".join(redactor.redact(text) for text in texts if text)
    assert "<CREDIT_CARD>" in recorded and "<EMAIL_ADDRESS>" in recorded and "<PERSON>" in recorded
    for raw in ("4111", "Jane", "jane.doe"):
        assert raw not in recorded
