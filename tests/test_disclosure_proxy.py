"""EUAI-50.1-DISCLOSE and -ASKED end to end: the real openai SDK, a pipeline call through voiceguard.

A pipeline call is a streamed chat completion (the LLM reply before it goes to TTS) followed by a speech
request for that reply, both carrying the same call id. The decisions with their evidence reach the sinks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import ProxyFactory
from tests.policy_dirs import decisions, start_proxy
from voiceguard.events import PolicyDecision
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend, Reply
from voiceguard.testing import RecordingSink

CALL = "X-VoiceGuard-Call-Id"
EN = "Hi, you're speaking with an AI assistant. "
DE = "Hallo, Sie sprechen mit einem KI-Assistenten. "
ADMISSION = "Yes, I'm an AI assistant, not a human. "


def client_for(proxy: RunningServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0)


def evidence(decision: PolicyDecision) -> dict[str, str]:
    return dict(decision.evidence)


async def stream_text(client: openai.AsyncOpenAI, call: str, prompt: str) -> tuple[str, list[str]]:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        extra_headers={CALL: call},
    )
    pieces = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    return "".join(pieces), pieces


async def speak(client: openai.AsyncOpenAI, call: str, text: str, fmt: str = "pcm") -> tuple[bytes, Any]:
    async with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="alloy",
        input=text,
        response_format=fmt,  # type: ignore[arg-type]
        extra_headers={CALL: call},
    ) as response:
        return await response.read(), response.headers


def spoken_upstream(backend: Backend) -> str:
    body = next(r.body for r in reversed(backend.received) if r.path == "/v1/audio/speech")
    text: str = json.loads(body)["input"]
    return text


async def test_inject_puts_the_disclosure_first_in_the_reply_and_tts_finds_it_there(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path)
    async with client_for(proxy) as client:
        text, pieces = await stream_text(client, "call-inject", "what are your opening hours")
        await speak(client, "call-inject", text)
    assert pieces[0] == EN
    assert text == EN + "You said: what are your opening hours"
    assert spoken_upstream(backend) == text  # verified at TTS, not injected twice
    llm, tts, timed = decisions(recording, "EUAI-50.1-DISCLOSE")
    assert (llm.action, llm.outcome) == ("enforce", "repaired")
    assert evidence(llm) | {"policy_digest": "-"} == {
        "disclosure_id": "VG-AI-DISCLOSURE",
        "version": "1",
        "locale": "en",
        "stage": "llm",
        "delivery": "injected",
        "policy_digest": "-",
    }
    assert (tts.outcome, evidence(tts)["stage"]) == ("compliant", "tts")
    assert evidence(tts)["delivery"] == "verified"
    assert timed.outcome == "timed"
    assert float(evidence(timed)["delivered_offset_ms"]) < 0  # before the first agent audio
    assert len(evidence(llm)["policy_digest"]) == 64


async def test_inject_prepends_the_disclosure_to_tts_text_when_the_tts_call_comes_first(
    make_proxy: ProxyFactory, openai_upstream: RunningApp, backend: Backend, tmp_path: Path
) -> None:
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path)
    async with client_for(proxy) as client:
        audio, headers = await speak(client, "call-tts-first", "Your table is booked.")
    assert spoken_upstream(backend) == EN + "Your table is booked."
    assert headers["X-VoiceGuard-AI-Generated"] == "true"
    assert len(audio) > 0


async def test_an_agent_that_discloses_itself_is_left_untouched(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    backend.responder = lambda prompt: Reply("Hello! I'm Ava, an AI assistant at Acme. How can I help?")
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path)
    async with client_for(proxy) as client:
        text, _ = await stream_text(client, "call-self", "hello")
    assert text == "Hello! I'm Ava, an AI assistant at Acme. How can I help?"
    (decision,) = decisions(recording, "EUAI-50.1-DISCLOSE")
    assert (decision.outcome, evidence(decision)["delivery"]) == ("compliant", "verified")


async def test_block_refuses_a_first_reply_without_disclosure_with_the_contract_error(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path, {"EUAI-50.1-DISCLOSE": "block"})
    async with client_for(proxy) as client:
        with pytest.raises(openai.APIStatusError) as refused:
            await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={CALL: "call-block-json"},
            )
        with pytest.raises(openai.APIStatusError) as refused_tts:
            await speak(client, "call-block-tts", "Your table is booked.")
    assert refused.value.status_code == 451
    body = refused.value.body
    assert isinstance(body, dict) and body["policy"] == "EUAI-50.1-DISCLOSE"
    assert refused_tts.value.status_code == 451
    assert not any(r.path == "/v1/audio/speech" for r in backend.received)  # refused before the upstream
    blocked = decisions(recording, "EUAI-50.1-DISCLOSE")
    assert [(d.action, d.outcome) for d in blocked] == [("block", "blocked"), ("block", "blocked")]
    assert evidence(blocked[0]) == {"kind": "disclosure", "denied": "false"}


async def test_block_cuts_a_streamed_reply_without_disclosure_before_any_words_reach_the_client(
    make_proxy: ProxyFactory, openai_upstream: RunningApp, recording: RecordingSink, tmp_path: Path
) -> None:
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path, {"EUAI-50.1-DISCLOSE": "block"})
    received: list[str] = []

    async def read_stream() -> None:
        async with client_for(proxy) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                extra_headers={CALL: "call-block-stream"},
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)

    with pytest.raises(openai.APIError):
        await read_stream()
    assert received == []
    assert [d.outcome for d in decisions(recording, "EUAI-50.1-DISCLOSE")] == ["blocked"]


async def test_observe_records_the_missing_disclosure_and_changes_nothing(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path, {"EUAI-50.1-DISCLOSE": "observe"})
    async with client_for(proxy) as client:
        text, _ = await stream_text(client, "call-observe", "hello")
        await speak(client, "call-observe", text)
    assert text == "You said: hello"
    assert spoken_upstream(backend) == "You said: hello"
    llm, tts = decisions(recording, "EUAI-50.1-DISCLOSE")
    assert (llm.action, llm.outcome, evidence(llm)["delivery"]) == ("observe", "violation", "missing")
    assert (evidence(tts)["stage"], tts.outcome) == ("tts", "violation")


async def test_asking_whether_it_is_a_robot_makes_the_next_reply_admit_it(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    backend.responder = lambda prompt: Reply(
        "I can help with your booking." if "robot" in prompt else "Hello! I'm your AI assistant."
    )
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path)
    async with client_for(proxy) as client:
        first, _ = await stream_text(client, "call-ask", "hello")
        second, _ = await stream_text(client, "call-ask", "Wait, am I talking to a robot?")
        third, _ = await stream_text(client, "call-ask", "ok, thanks")
    assert first == "Hello! I'm your AI assistant."
    assert second == ADMISSION + "I can help with your booking."
    assert third == "Hello! I'm your AI assistant."
    (asked,) = decisions(recording, "EUAI-50.1-ASKED")
    assert (asked.outcome, evidence(asked)["admission_id"], evidence(asked)["delivery"]) == (
        "repaired",
        "VG-AI-ADMISSION",
        "injected",
    )


async def test_a_denial_after_the_question_is_recorded_as_a_violation_in_observe_mode(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    backend.responder = lambda prompt: Reply("No, I'm a real person, I promise.")
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path, {"EUAI-50.1-ASKED": "observe"})
    async with client_for(proxy) as client:
        text, _ = await stream_text(client, "call-deny", "Bist du ein Roboter?")
    assert text.endswith("No, I'm a real person, I promise.")
    (asked,) = decisions(recording, "EUAI-50.1-ASKED")
    assert (asked.outcome, evidence(asked)["denied"]) == ("violation", "true")
    assert evidence(asked)["locale"] == "de"


async def test_the_disclosure_is_in_the_language_of_the_callers_jurisdiction(
    make_proxy: ProxyFactory, openai_upstream: RunningApp, recording: RecordingSink, tmp_path: Path
) -> None:
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path)
    async with client_for(proxy) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Hallo"}],
            extra_headers={CALL: "call-de", "X-VoiceGuard-Jurisdiction": "DE"},
        )
    assert completion.choices[0].message.content == DE + "You said: Hallo"
    (decision,) = decisions(recording, "EUAI-50.1-DISCLOSE")
    assert evidence(decision)["locale"] == "de"
