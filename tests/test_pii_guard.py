"""The PII guard on realistic event sequences: transcripts split across results, cues from the agent,
streamed replies with placeholders, modes per flow, fail-closed, and reports that carry counts only."""

from __future__ import annotations

from typing import Any

import pytest

from voiceguard.config import PiiConfig
from voiceguard.events import (
    AgentText,
    Direction,
    Event,
    LLMRequest,
    PolicyDecision,
    PromptText,
    ResponseDone,
    Stage,
    TextDelta,
    TextRole,
    ToolCall,
    Transcript,
    TTSText,
    Word,
)
from voiceguard.guards.base import Blocked
from voiceguard.guards.pii import PiiGuard, PiiGuardSettings
from voiceguard.pii.engine import EngineSettings, PiiEngine, build_engine
from voiceguard.session import Call
from voiceguard.testing import guard_context, make_call, run_guard

CARD = "4111 1111 1111 1111"


def guard(engine: PiiEngine, **pii: Any) -> PiiGuard:
    return PiiGuard(engine, PiiGuardSettings.from_config(PiiConfig.model_validate(pii)))


def texts(events: list[Event]) -> list[str]:
    return [getattr(e, "text", None) or getattr(e, "arguments", "") for e in events if _is_text(e)]


def _is_text(event: Event) -> bool:
    return not isinstance(event, PolicyDecision | LLMRequest | ResponseDone)


def decisions(events: list[Event]) -> list[tuple[str, tuple[tuple[str, int], ...]]]:
    return [(e.action, e.counts) for e in events if isinstance(e, PolicyDecision)]


STT = {"stage": Stage.STT, "direction": Direction.TO_CLIENT, "provider": "deepgram", "operation": "listen"}


def test_default_policy_counts_a_card_in_a_transcript_and_forwards_the_same_event(
    pattern_engine: PiiEngine,
) -> None:
    final = Transcript(f"my card is {CARD}")
    out = run_guard(guard(pattern_engine), guard_context(**STT), final)
    assert out[0] is final
    assert decisions(out) == [("observe", (("CREDIT_CARD", 1),))]


def test_a_card_split_across_two_final_transcripts_is_redacted_in_both(pattern_engine: PiiEngine) -> None:
    pii = guard(pattern_engine, modes={"speech": {"CREDIT_CARD": "redact"}})
    ctx = guard_context(**STT)
    out = run_guard(pii, ctx, Transcript("my card number is 4111 1111"), Transcript("1111 1111 thanks"))
    assert texts(out) == ["my card number is <CREDIT_CARD>", "<CREDIT_CARD> thanks"]


def test_without_a_cue_the_second_half_is_still_caught(pattern_engine: PiiEngine) -> None:
    pii = guard(pattern_engine, modes={"speech": {"CREDIT_CARD": "redact"}})
    out = run_guard(pii, guard_context(**STT), Transcript("4111 1111"), Transcript("1111 1111"))
    assert texts(out) == ["4111 1111", "<CREDIT_CARD>"]


def test_interim_results_are_redacted_but_do_not_join_the_window(pattern_engine: PiiEngine) -> None:
    pii = guard(pattern_engine, modes={"speech": {"CREDIT_CARD": "redact"}})
    out = run_guard(
        pii,
        guard_context(**STT),
        Transcript(f"card {CARD}", is_final=False),
        Transcript("1111 1111", is_final=False),
        Transcript("ok"),
    )
    assert texts(out) == ["card <CREDIT_CARD>", "1111 1111", "ok"]


def test_the_agents_question_is_the_cue_for_the_callers_digits(pattern_engine: PiiEngine) -> None:
    pii = guard(pattern_engine, modes={"speech": {"CVV": "redact", "US_SSN": "redact"}})
    call = make_call()
    tts = guard_context(call, Stage.TTS, Direction.TO_UPSTREAM, "elevenlabs", "speech")
    stt = guard_context(call, **STT)
    out = run_guard(pii, tts, TTSText("And the three digit code on the back?"))
    out += run_guard(pii, stt, Transcript("one two three"))
    out += run_guard(pii, tts, TTSText("Thanks. Now your social security number please."))
    out += run_guard(pii, stt, Transcript("it's one two three four five six seven eight nine"))
    assert texts(out)[1::2] == ["<CVV>", "it's <US_SSN>"]


def prompt_events(*messages: tuple[TextRole, str]) -> list[Event]:
    return [LLMRequest(model="m", message_count=len(messages)), *(PromptText(t, r) for r, t in messages)]


def test_prompts_are_pseudonymised_and_the_same_value_keeps_its_placeholder(
    pattern_engine: PiiEngine,
) -> None:
    pii = guard(pattern_engine)
    call = make_call()
    first = run_guard(pii, guard_context(call), *prompt_events((TextRole.USER, f"card {CARD}")))
    again = run_guard(
        pii,
        guard_context(call, exchange_id="exchange-2"),
        *prompt_events(
            (TextRole.USER, f"card {CARD}"),
            (TextRole.ASSISTANT, f"You said: card {CARD}"),
            (TextRole.USER, "and 5555 5555 5555 4444 too"),
        ),
    )
    assert texts(first) == ["card <CREDIT_CARD_1>"]
    assert texts(again) == [
        "card <CREDIT_CARD_1>",
        "You said: card <CREDIT_CARD_1>",
        "and <CREDIT_CARD_2> too",
    ]


def llm_reply(call: Call, exchange_id: str = "exchange-1") -> Any:
    return guard_context(call, Stage.LLM, Direction.TO_CLIENT, exchange_id=exchange_id)


def test_placeholders_split_across_deltas_are_restored_and_plain_deltas_pass_untouched(
    pattern_engine: PiiEngine,
) -> None:
    pii = guard(pattern_engine)
    call = make_call()
    run_guard(pii, guard_context(call), *prompt_events((TextRole.USER, f"card {CARD}")))
    first = TextDelta("Sure", "choice0")
    out = run_guard(
        pii,
        llm_reply(call),
        first,
        TextDelta(", charging <CRED", "choice0"),
        TextDelta("IT_CARD_1> now.", "choice0"),
        ResponseDone(),
    )
    assert out[0] is first
    assert "".join(texts(out)) == f"Sure, charging {CARD} now."
    assert texts(out)[1:] == [", charging ", f"{CARD} now."]
    assert ("restore", (("CREDIT_CARD", 1),)) in decisions(out)


def test_streamed_tool_arguments_are_restored_and_a_held_tail_is_released_at_the_end(
    pattern_engine: PiiEngine,
) -> None:
    pii = guard(pattern_engine)
    call = make_call()
    run_guard(pii, guard_context(call), *prompt_events((TextRole.USER, "my card is 4111 1111 1111 1111")))
    out = run_guard(
        pii,
        llm_reply(call),
        ToolCall("charge", '{"card": "<CREDIT_', complete=False, stream="choice0.tool0"),
        ToolCall(None, 'CARD_1>"}', complete=False, stream="choice0.tool0"),
        ToolCall(None, " <CREDIT_CA", complete=False, stream="choice0.tool0"),
        ResponseDone(),
    )
    assert texts(out) == ['{"card": "', CARD + '"}', " ", "<CREDIT_CA"]
    assert isinstance(out[-1], ResponseDone) and isinstance(out[-2], ToolCall)


def test_reply_redaction_holds_only_the_open_tail(pattern_engine: PiiEngine) -> None:
    pii = guard(pattern_engine, modes={"speech": {"PHONE_NUMBER": "redact"}})
    call = make_call()
    deltas = ["Call", " us", " at", " 415", " 555", " 1234", " today", "."]
    out = run_guard(pii, llm_reply(call), *(TextDelta(d, "choice0") for d in deltas), ResponseDone())
    released = texts(out)
    assert released[:2] == ["Call", " us"] and "".join(released) == "Call us at <PHONE_NUMBER> today."
    assert released[-2:] == ["at <PHONE_NUMBER> today", "."]
    assert ("redact", (("PHONE_NUMBER", 1),)) in decisions(out)


def test_pseudonymize_on_a_reply_acts_as_redact(pattern_engine: PiiEngine) -> None:
    pii = guard(pattern_engine, modes={"speech": {"US_SSN": "pseudonymize"}})
    out = run_guard(pii, llm_reply(make_call()), AgentText("Your SSN is 123-45-6789."))
    assert texts(out) == ["Your SSN is <US_SSN>."]


def test_block_mode_raises_the_contracts_refusal(pattern_engine: PiiEngine) -> None:
    pii = guard(pattern_engine, block_status=451, modes={"llm": {"US_SSN": "block"}})
    with pytest.raises(Blocked) as blocked:
        run_guard(pii, guard_context(), *prompt_events((TextRole.USER, "my ssn is 123-45-6789")))
    assert blocked.value.status == 451 and blocked.value.rule_id == "PII"
    assert "US_SSN" in blocked.value.message and "6789" not in blocked.value.message


def test_a_failed_analysis_masks_the_text_and_reports_it() -> None:
    engine = build_engine(EngineSettings(model="pattern", timeout_ms=0.000001, chunk_chars=200))
    pii = PiiGuard(engine)
    prompt = "hello there " * 30 + CARD
    out = run_guard(pii, guard_context(), *prompt_events((TextRole.USER, prompt)))
    assert texts(out) == ["".join("*" if ch.isalnum() else ch for ch in prompt)]
    [failure] = [e for e in out if isinstance(e, PolicyDecision)]
    assert (failure.action, failure.outcome, failure.counts) == (
        "fail_closed",
        "masked",
        (("UNANALYZED", 1),),
    )


def test_decisions_never_carry_text(ner_engine: PiiEngine) -> None:
    pii = guard(ner_engine, observe_ner_in_flight=True)
    said = f"I'm Jane Doe, card {CARD}, phone 415 555 1234, jane@example.com, from Boston"
    out = run_guard(pii, guard_context(**STT), Transcript(said))
    [decision] = [e for e in out if isinstance(e, PolicyDecision)]
    assert dict(decision.counts) == {
        "CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "LOCATION": 1, "PERSON": 1, "PHONE_NUMBER": 1,
    }  # fmt: skip
    flat = repr(decision)
    for raw in ("4111", "Jane", "jane@", "Boston", "415"):
        assert raw not in flat


def test_names_are_only_looked_for_with_ner_when_a_mode_acts_on_them(ner_engine: PiiEngine) -> None:
    observing = guard(ner_engine)
    redacting = guard(ner_engine, modes={"speech": {"PERSON": "redact"}})
    said = Transcript("Maria Garcia called")
    assert decisions(run_guard(observing, guard_context(**STT), said)) == []
    assert texts(run_guard(redacting, guard_context(**STT), said)) == ["<PERSON> called"]


def test_a_redacted_transcripts_words_are_redacted_too(pattern_engine: PiiEngine) -> None:
    pii = guard(pattern_engine, modes={"speech": {"CREDIT_CARD": "redact"}})
    said = "card 4111 1111 1111 1111, thanks"
    words = tuple(
        Word(w, 0.3 * i, 0.3 * i + 0.25)
        for i, w in enumerate(["card", "4111", "1111", "1111", "1111", "thanks"])
    )
    [out, _] = run_guard(pii, guard_context(**STT), Transcript(said, words=words))
    assert isinstance(out, Transcript) and out.text == "card <CREDIT_CARD>, thanks"
    assert [w.text for w in out.words] == ["card", *["<CREDIT_CARD>"] * 4, "thanks"]
    assert [w.start for w in out.words] == [w.start for w in words]
