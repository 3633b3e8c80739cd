"""The disclosure guard on the events of each stage, including realtime (whose adapter is another module)."""

from __future__ import annotations

import pytest

from tests.policy_dirs import SHIPPED, policy_dir
from voiceguard.biometrics.call_state import CALL_SPEAKERS, CallSpeakers
from voiceguard.events import (
    AgentText,
    AudioChunk,
    Direction,
    Event,
    PolicyDecision,
    PromptText,
    ResponseDone,
    Stage,
    TextDelta,
    TextRole,
    Transcript,
)
from voiceguard.guards.base import Blocked
from voiceguard.guards.disclosure import DisclosureGuard
from voiceguard.policy.context import PolicyStore
from voiceguard.policy.loader import load_policy_set
from voiceguard.testing import guard_context, make_call, run_guard

EN = "Hi, you're speaking with an AI assistant."


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000_000

    def __call__(self) -> int:
        return self.now


def guard_for(
    actions: dict[str, str] | None = None, tmp_path: object = None, clock: Clock | None = None
) -> DisclosureGuard:
    directory = policy_dir(tmp_path, actions) if actions else SHIPPED  # type: ignore[arg-type]
    store = PolicyStore(load_policy_set(directory), default_jurisdiction="EU")
    return DisclosureGuard(store, clock or Clock())


def decisions(events: list[Event]) -> list[PolicyDecision]:
    return [e for e in events if isinstance(e, PolicyDecision)]


def texts(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_a_streamed_first_reply_is_held_until_the_window_then_released_behind_the_disclosure() -> None:
    guard = guard_for()
    ctx = guard_context(make_call(), Stage.LLM, Direction.TO_CLIENT)
    held = run_guard(
        guard,
        ctx,
        TextDelta("", "choice0"),
        TextDelta("Sure, ", "choice0"),
        TextDelta("let me check.", "choice0"),
    )
    assert texts(held) == ""  # the role chunk passes, words are held
    released = run_guard(guard, ctx, AgentText("Sure, let me check.", "choice0"), ResponseDone())
    assert texts(released) == f"{EN} Sure, let me check."
    summary = next(e for e in released if isinstance(e, AgentText))
    assert summary.text == f"{EN} Sure, let me check."  # the stream's summary matches what was sent
    assert run_guard(guard, ctx, TextDelta("Next reply", "choice0")) == [TextDelta("Next reply", "choice0")]


def test_a_long_first_reply_is_released_as_soon_as_the_window_is_full() -> None:
    guard = guard_for()
    ctx = guard_context(make_call(), Stage.LLM, Direction.TO_CLIENT)
    out = run_guard(guard, ctx, *(TextDelta("word " * 10, "choice0") for _ in range(3)))
    assert texts(out).startswith(EN) and texts(out).endswith("word " * 10 * 3)


def test_the_realtime_session_instructions_carry_the_disclosure_and_the_transcript_is_verified() -> None:
    guard = guard_for()
    call = make_call()
    upstream = guard_context(call, Stage.REALTIME, Direction.TO_UPSTREAM, operation="realtime")
    downstream = guard_context(call, Stage.REALTIME, Direction.TO_CLIENT, operation="realtime")
    (instructions, instructed) = run_guard(guard, upstream, PromptText("Be brief.", TextRole.INSTRUCTIONS))
    assert isinstance(instructions, PromptText)
    assert instructions.text == f'Be brief.\n\nBegin your first response by saying exactly: "{EN}"'
    assert isinstance(instructed, PolicyDecision) and instructed.outcome == "instructed"
    out = run_guard(
        guard,
        downstream,
        TextDelta("Hi, you're speaking ", "item1"),
        TextDelta("with an AI assistant.", "item1"),
    )
    assert texts(out) == EN  # realtime is never held: audio cannot be
    (verified,) = decisions(out)
    assert (verified.outcome, dict(verified.evidence)["stage"]) == ("compliant", "realtime")


def test_a_realtime_response_without_disclosure_is_a_violation_it_cannot_repair() -> None:
    guard = guard_for()
    ctx = guard_context(make_call(), Stage.REALTIME, Direction.TO_CLIENT, operation="realtime")
    out = run_guard(
        guard, ctx, TextDelta("Hello!", "item1"), AgentText("Hello!", "item1", spoken=True), ResponseDone()
    )
    assert texts(out) == "Hello!"
    (decision,) = decisions(out)
    assert (decision.action, decision.outcome, dict(decision.evidence)["delivery"]) == (
        "enforce",
        "violation",
        "missing",
    )


def test_block_on_realtime_closes_the_session_when_the_transcript_lacks_the_disclosure(
    tmp_path: object,
) -> None:
    guard = guard_for({"EUAI-50.1-DISCLOSE": "block"}, tmp_path)
    ctx = guard_context(make_call(), Stage.REALTIME, Direction.TO_CLIENT, operation="realtime")
    with pytest.raises(Blocked) as blocked:
        run_guard(guard, ctx, AgentText("Hello!", "item1", spoken=True))
    assert (blocked.value.rule_id, blocked.value.status, blocked.value.close_code) == (
        "EUAI-50.1-DISCLOSE",
        451,
        1008,
    )


def test_a_question_in_a_realtime_transcript_is_checked_on_the_next_response() -> None:
    guard = guard_for()
    call = make_call()
    ctx = guard_context(call, Stage.REALTIME, Direction.TO_CLIENT, operation="realtime")
    run_guard(guard, ctx, AgentText(EN, "item0", spoken=True))
    run_guard(guard, ctx, Transcript("¿Estoy hablando con una persona real?", language="es"))
    out = run_guard(guard, ctx, AgentText("Claro, dime.", "item2", spoken=True))
    (asked,) = decisions(out)
    assert (asked.rule_id, asked.outcome, dict(asked.evidence)["locale"]) == (
        "EUAI-50.1-ASKED",
        "violation",
        "es",
    )


def test_the_disclosure_offset_to_the_first_agent_audio_is_reported_in_milliseconds() -> None:
    clock = Clock()
    guard = guard_for(clock=clock)
    call = make_call()
    tts = guard_context(call, Stage.TTS, Direction.TO_CLIENT, operation="speech")
    llm = guard_context(call, Stage.LLM, Direction.TO_CLIENT)
    run_guard(guard, llm, AgentText("Hello, how can I help?", "choice0"))
    clock.now += 250_000_000
    out = run_guard(guard, tts, AudioChunk(Direction.TO_CLIENT, 4800, 0.1, "pcm"))
    (timed,) = decisions(out)
    assert dict(timed.evidence)["delivered_offset_ms"] == "-250.0"
    clock.now += 1
    assert decisions(run_guard(guard, tts, AudioChunk(Direction.TO_CLIENT, 4800, 0.1, "pcm"))) == []


def test_a_disclosure_only_after_the_first_audio_gets_a_positive_offset() -> None:
    clock = Clock()
    guard = guard_for(clock=clock)
    call = make_call()
    ctx = guard_context(call, Stage.REALTIME, Direction.TO_CLIENT, operation="realtime")
    run_guard(guard, ctx, AudioChunk(Direction.TO_CLIENT, 4800, 0.1, "pcm16"))
    clock.now += 400_000_000
    (verified,) = decisions(run_guard(guard, ctx, AgentText(EN, "item1", spoken=True)))
    assert dict(verified.evidence)["delivered_offset_ms"] == "400.0"


def test_the_callers_language_from_stt_picks_the_disclosure_language() -> None:
    guard = guard_for()
    call = make_call()
    run_guard(
        guard, guard_context(call, Stage.STT, Direction.TO_CLIENT), Transcript("Bonjour", language="french")
    )
    out = run_guard(
        guard,
        guard_context(call, Stage.LLM, Direction.TO_CLIENT),
        AgentText("Que puis-je faire ?", "choice0"),
    )
    reply = next(e for e in out if isinstance(e, AgentText))
    assert reply.text == "Bonjour, vous parlez avec un assistant IA. Que puis-je faire ?"


def test_a_voice_that_joins_the_call_hears_the_disclosure_on_the_agents_next_reply() -> None:
    guard = guard_for()
    call = make_call()
    ctx = guard_context(call, Stage.LLM, Direction.TO_CLIENT)
    speakers = call.scratch(CALL_SPEAKERS, CallSpeakers)

    def reply(text: str) -> list[Event]:
        return run_guard(guard, ctx, TextDelta(text, "choice0"), AgentText(text, "choice0"), ResponseDone())

    assert texts(reply("Hello.")) == f"{EN} Hello."
    speakers.voices = 1  # the caller's own voice, first heard after the disclosure went out
    assert texts(reply("How can I help?")) == "How can I help?"
    speakers.voices = 2  # someone else took the phone
    again = reply("Sure.")
    assert texts(again) == f"{EN} Sure."
    (decision,) = decisions(again)
    assert (
        dict(decision.evidence)["delivery"] == "injected" and ("trigger", "new_speaker") in decision.evidence
    )
    assert texts(reply("Anything else?")) == "Anything else?"  # once per new voice
