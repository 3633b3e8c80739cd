"""EUAI-50.1-DISCLOSE on a realtime call with the openai SDK, per mode: instructions, verification, block.

Realtime audio cannot be held back, so under ``enforce`` voiceguard adds the disclosure to the session's
instructions and verifies the first response's transcript; a model that ignores the instruction is
recorded as a violation. The simulator is not a model: it does not follow instructions, it replies from
its script, which is what lets these tests see both outcomes.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import openai
import pytest
import websockets

from tests.conftest import ProxyFactory
from tests.policy_dirs import decisions, start_proxy
from voiceguard.events import PolicyDecision
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.audio import tone_pcm16
from voiceguard.simulator.backend import Backend, Reply
from voiceguard.testing import RecordingSink

EN = "Hi, you're speaking with an AI assistant."
SPEECH = base64.b64encode(tone_pcm16(0.02)).decode()
SILENCE = base64.b64encode(bytes(960)).decode()
SESSION: dict[str, Any] = {
    "type": "realtime",
    "instructions": "You are a booking assistant.",
    "audio": {
        "input": {
            "transcription": {"model": "gpt-4o-transcribe"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 200},
        }
    },
}


async def one_turn(proxy: RunningServer) -> list[Any]:
    """Configure the session, speak one utterance, and collect events until the response is done."""
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0)
    seen: list[Any] = []
    async with client, client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(session=SESSION)  # type: ignore[arg-type]
        for frame in [SPEECH] * 15 + [SILENCE] * 12:
            await connection.input_audio_buffer.append(audio=frame)
        async with asyncio.timeout(10):
            async for event in connection:
                seen.append(event)
                if event.type == "response.done":
                    break
    return seen


async def decisions_after_close(recording: RecordingSink, rule_id: str, count: int) -> list[PolicyDecision]:
    """Records of a WebSocket call reach the sinks as its frames pass; wait (bounded) for the last ones."""
    for _ in range(250):
        found = decisions(recording, rule_id)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} {rule_id} decisions arrived")


def sent_instructions(backend: Backend) -> str:
    for frame in backend.received[-1].frames:
        message = json.loads(frame)
        if message.get("type") == "session.update":
            text: str = message["session"]["instructions"]
            return text
    raise AssertionError("no session.update reached the upstream")


def transcript(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")


async def test_enforce_instructs_the_model_and_records_a_first_response_that_ignored_it(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    backend.script(["what time do you open"])
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path)
    events = await one_turn(proxy)
    assert sent_instructions(backend) == (
        f'You are a booking assistant.\n\nBegin your first response by saying exactly: "{EN}"'
    )
    assert transcript(events) == "You said: what time do you open"  # realtime output is never rewritten
    instructed, checked = await decisions_after_close(recording, "EUAI-50.1-DISCLOSE", 2)
    assert (instructed.outcome, dict(instructed.evidence)["delivery"]) == ("instructed", "instructed")
    assert (checked.outcome, dict(checked.evidence)["stage"]) == ("violation", "realtime")


async def test_a_realtime_model_that_discloses_itself_is_verified_against_its_first_audio(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    backend.script(["hello"])
    backend.responder = lambda prompt: Reply(f"{EN} How can I help?")
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path)
    events = await one_turn(proxy)
    assert transcript(events) == f"{EN} How can I help?"
    _, verified = await decisions_after_close(recording, "EUAI-50.1-DISCLOSE", 2)
    evidence = dict(verified.evidence)
    assert (verified.outcome, evidence["delivery"]) == ("compliant", "verified")
    assert float(evidence["delivered_offset_ms"]) >= 0  # the transcript trails the audio it describes


async def test_observe_leaves_the_instructions_alone_and_records_the_violation(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    backend.script(["hello"])
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path, {"EUAI-50.1-DISCLOSE": "observe"})
    await one_turn(proxy)
    assert sent_instructions(backend) == "You are a booking assistant."
    (decision,) = await decisions_after_close(recording, "EUAI-50.1-DISCLOSE", 1)
    assert (decision.action, decision.outcome) == ("observe", "violation")


async def test_block_closes_the_realtime_session_when_the_first_response_lacks_the_disclosure(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    backend.script(["hello"])
    proxy = await start_proxy(make_proxy, openai_upstream, tmp_path, {"EUAI-50.1-DISCLOSE": "block"})
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await one_turn(proxy)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    (decision,) = await decisions_after_close(recording, "EUAI-50.1-DISCLOSE", 1)
    assert (decision.action, decision.outcome) == ("block", "blocked")
