"""The chain skips a guard for event types it declared it passes, with the same results as calling it.

Realtime audio runs through the chain tens of times a second per call; guards that only read text say so
(``Selective.passes``) and the chain leaves them out for those events. These tests pin that the skip is
invisible: order, rewrites, holds, injections and reports come out as if every guard had run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest

from voiceguard.events import (
    AudioChunk,
    Direction,
    Event,
    PolicyDecision,
    Stage,
    TextDelta,
    Transcript,
    TTSText,
    WireAnomaly,
)
from voiceguard.guards.ai_marking import AiMarkingGuard
from voiceguard.guards.base import Blocked, GuardChain, GuardContext, Selective
from voiceguard.guards.biometrics import BiometricsGuard
from voiceguard.guards.disclosure import DisclosureGuard
from voiceguard.guards.pii import PiiGuard
from voiceguard.session import Call
from voiceguard.testing import guard_context

AUDIO = AudioChunk(Direction.TO_UPSTREAM, 960, 0.02, "pcm16", 24_000)


class Counting:
    """Passes everything on, counting what it was shown; ``skips`` is what it declares it passes."""

    name = "counting"

    def __init__(self, skips: tuple[type[Event], ...] = ()) -> None:
        self.skips = skips
        self.seen: list[Event] = []

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def passes(self, kind: type[Event], direction: Direction, stage: Stage) -> bool:
        return issubclass(kind, self.skips)

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        self.seen.append(event)
        return (event,)


class TextBeforeAudio:
    """Not selective: injects a text delta and a decision in front of every audio chunk."""

    name = "inject"

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, AudioChunk):
            yield PolicyDecision("TEST-INJECT", "enforce", "injected")
            yield TextDelta("hello", "s")
        yield event


class UpperText:
    name = "upper"

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def passes(self, kind: type[Event], direction: Direction, stage: Stage) -> bool:
        return not issubclass(kind, TextDelta)

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        assert isinstance(event, TextDelta), "the chain showed a guard an event type it declared it passes"
        return (dataclasses.replace(event, text=event.text.upper()),)


def test_a_guard_is_not_shown_the_event_types_it_declared_it_passes() -> None:
    text_only = Counting(skips=(AudioChunk,))
    everything = Counting()
    chain = GuardChain([text_only, everything])
    ctx = guard_context(stage=Stage.REALTIME)
    delta = TextDelta("hi", "s")

    chain.process(ctx, [AUDIO])
    chain.process(ctx, [delta])

    assert text_only.seen == [delta]
    assert everything.seen == [AUDIO, delta]


def test_an_unchanged_single_event_comes_back_as_the_same_list_with_no_reports() -> None:
    chain = GuardChain([Counting(skips=(AudioChunk,)), Counting()])
    events: list[Event] = [AUDIO]

    result = chain.process(guard_context(stage=Stage.REALTIME), events)

    assert result.events is events
    assert result.reports == []


def test_events_injected_by_one_guard_reach_the_later_guards_that_want_their_type() -> None:
    chain = GuardChain([TextBeforeAudio(), UpperText()])

    result = chain.process(guard_context(stage=Stage.REALTIME), [AUDIO])

    assert result.events == [TextDelta("HELLO", "s"), AUDIO]
    assert [r.rule_id for r in result.reports if isinstance(r, PolicyDecision)] == ["TEST-INJECT"]


def test_a_unit_of_several_events_skips_guards_per_event() -> None:
    upper = UpperText()
    chain = GuardChain([upper])

    result = chain.process(guard_context(stage=Stage.REALTIME), [AUDIO, TextDelta("a", "s"), AUDIO])

    assert result.events == [AUDIO, TextDelta("A", "s"), AUDIO]


def test_a_block_after_a_skipped_guard_still_carries_the_earlier_reports() -> None:
    class BlockAudio(Counting):
        def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
            raise Blocked("TEST-BLOCK", "no audio")

    chain = GuardChain([TextBeforeAudio(), UpperText(), BlockAudio()])

    with pytest.raises(Blocked) as raised:
        chain.process(guard_context(stage=Stage.REALTIME), [AUDIO])

    assert [r.rule_id for r in raised.value.reports if isinstance(r, PolicyDecision)] == ["TEST-INJECT"]


@pytest.mark.parametrize(
    ("guard_type", "kind", "direction", "stage", "passes"),
    [
        (BiometricsGuard, AudioChunk, Direction.TO_UPSTREAM, Stage.REALTIME, True),
        (BiometricsGuard, Transcript, Direction.TO_CLIENT, Stage.REALTIME, False),
        (DisclosureGuard, AudioChunk, Direction.TO_UPSTREAM, Stage.REALTIME, True),
        (DisclosureGuard, AudioChunk, Direction.TO_CLIENT, Stage.REALTIME, False),
        (DisclosureGuard, AudioChunk, Direction.TO_CLIENT, Stage.TTS, False),
        (DisclosureGuard, AudioChunk, Direction.TO_CLIENT, Stage.STT, True),
        (DisclosureGuard, WireAnomaly, Direction.TO_CLIENT, Stage.REALTIME, False),
        (AiMarkingGuard, AudioChunk, Direction.TO_CLIENT, Stage.REALTIME, True),
        (AiMarkingGuard, TTSText, Direction.TO_UPSTREAM, Stage.TTS, False),
        (PiiGuard, AudioChunk, Direction.TO_UPSTREAM, Stage.REALTIME, True),
        (PiiGuard, WireAnomaly, Direction.TO_CLIENT, Stage.REALTIME, True),
        (PiiGuard, TextDelta, Direction.TO_CLIENT, Stage.REALTIME, False),
    ],
)
def test_built_in_guards_pass_audio_only_where_they_never_act_on_it(
    guard_type: type[object], kind: type[Event], direction: Direction, stage: Stage, passes: bool
) -> None:
    guard = guard_type.__new__(guard_type)  # ``passes`` reads no state: no policy store is needed

    assert isinstance(guard, Selective)
    assert guard.passes(kind, direction, stage) is passes
