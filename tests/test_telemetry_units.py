"""The small parts of telemetry on exact inputs: ids, prices, deferral, the PII-metric convention."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from voiceguard.config import PriceConfig, load_settings
from voiceguard.events import AudioChunk, Direction, PolicyDecision, TTSText, Usage
from voiceguard.session import Call
from voiceguard.telemetry import ids
from voiceguard.telemetry.cost import PriceTable, UsageTally, estimate
from voiceguard.telemetry.deferred import Deferred
from voiceguard.telemetry.voice_metrics import is_pii_decision, is_pii_rule


def call(call_id: str, traceparent: str | None = None) -> Call:
    return Call(id=call_id, named_by_client=True, started_ns=1, traceparent=traceparent)


def test_trace_id_is_the_same_for_a_call_id_on_every_replica_and_differs_between_calls() -> None:
    assert ids.trace_id_for(call("call-7")) == ids.trace_id_for(Call("call-7", True, started_ns=999))
    assert ids.trace_id_for(call("call-7")) != ids.trace_id_for(call("call-8"))
    assert ids.trace_id_hex(call("4bf92f3577b34da6a3ce929d0e0e4736")) == "4bf92f3577b34da6a3ce929d0e0e4736"
    client = call("named", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert ids.trace_id_hex(client) == "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = ids.remote_parent(client)
    assert parent is not None and parent.span_id == 0x00F067AA0BA902B7 and parent.sampled
    # span ids are unique to this replica's view of the call (its start time)
    assert ids.turn_span_id(call("c"), 1) != ids.turn_span_id(Call("c", True, started_ns=2), 1)


def test_prices_match_exact_dated_and_prefixed_model_names() -> None:
    table = PriceTable(load_settings(None, env={}).telemetry.prices)
    assert table.price_for("gpt-4o-mini") == table.price_for("gpt-4o-mini-2024-07-18")
    assert table.price_for("gpt-4o-mini-tts") != table.price_for("gpt-4o-mini")
    assert table.price_for("gpt-4o-realtime-preview-2024-12-17") == table.price_for("gpt-4o-realtime-preview")
    assert table.price_for("some-unknown-model") is None
    assert table.cost("some-unknown-model", UsageTally(input_tokens=5, seen=True)) is None


def test_cost_prices_text_audio_and_cached_tokens_apart() -> None:
    price = PriceConfig(
        input_per_mtok=4,
        cached_input_per_mtok=0.4,
        output_per_mtok=16,
        audio_input_per_mtok=32,
        audio_output_per_mtok=64,
    )
    tally = UsageTally()
    tally.observe(
        Usage(
            input_tokens=1_000,
            output_tokens=500,
            cached_input_tokens=100,
            audio_input_tokens=800,
            audio_output_tokens=400,
        )
    )
    # text in 100, cached 100, audio in 800; text out 100, audio out 400
    assert estimate(price, tally) == pytest.approx(
        (100 * 4 + 100 * 0.4 + 800 * 32 + 100 * 16 + 400 * 64) / 1e6
    )


def test_cost_of_speech_by_the_minute_and_by_the_character() -> None:
    stt = UsageTally()
    stt.observe(Usage(audio_seconds=90))
    assert estimate(PriceConfig(audio_input_per_minute=0.006), stt) == pytest.approx(0.009)
    tts = UsageTally()
    tts.observe(TTSText("a" * 1_000))
    tts.observe(AudioChunk(Direction.TO_CLIENT, 48_000, 30.0))
    assert estimate(PriceConfig(per_million_characters=15), tts) == pytest.approx(0.015)
    assert estimate(PriceConfig(audio_output_per_minute=0.015), tts) == pytest.approx(0.0075)


def test_configured_prices_add_to_the_built_in_table() -> None:
    settings = load_settings(
        None, env={}, overrides={"telemetry": {"prices": {"mine": {"input_per_mtok": 1}}}}
    )
    assert settings.telemetry.prices["mine"].input_per_mtok == 1
    assert "gpt-4o-mini" in settings.telemetry.prices


def test_deferred_work_runs_after_the_current_step_or_at_once_without_a_loop() -> None:
    done: list[str] = []
    deferred = Deferred()
    deferred(done.append, "inline")
    assert done == ["inline"]

    async def step() -> None:
        deferred(done.append, "later")
        assert done == ["inline"]
        await asyncio.sleep(0)
        assert done == ["inline", "later"]

    asyncio.run(step())


def test_deferred_work_that_fails_is_counted_not_raised() -> None:
    deferred = Deferred()
    deferred(lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    assert deferred.failures == 1


@pytest.mark.parametrize(
    ("rule_id", "counted"),
    [
        ("pii", True),
        ("pii.redact", True),
        ("pii-pseudonymize", True),
        ("pii_mask", True),
        ("piirate", False),
        ("disclosure", False),
    ],
)
def test_pii_entities_are_counted_from_decisions_of_pii_rules(rule_id: str, counted: bool) -> None:
    assert is_pii_rule(rule_id) is counted


def test_decisions_of_the_pii_guard_are_counted_whatever_pack_rule_they_are_filed_under() -> None:
    filed = PolicyDecision("PCI-3.4.1", "pseudonymize", "pseudonymized", (("CREDIT_CARD", 1),))
    assert not is_pii_decision(filed)
    assert is_pii_decision(dataclasses.replace(filed, evidence=(("control", "pii"),)))
    assert is_pii_decision(dataclasses.replace(filed, rule_id="PII"))  # the configuration's rule id
