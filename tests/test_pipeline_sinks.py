"""The pipeline hands each record only to the sinks that read its kind (``SelectiveSink``)."""

from __future__ import annotations

from voiceguard.events import AudioChunk, Direction
from voiceguard.guards.base import GuardChain
from voiceguard.pipeline import Pipeline
from voiceguard.protocols.openai_realtime import REALTIME
from voiceguard.records import EventObserved, ExchangeFinished, Record
from voiceguard.session import CallContext
from voiceguard.testing import RecordingSink


class FinishedOnly(RecordingSink):
    def wants(self, kind: type[Record]) -> bool:
        return issubclass(kind, ExchangeFinished)


def test_a_selective_sink_gets_only_the_records_it_wants_and_the_others_get_all() -> None:
    selective, everything = FinishedOnly(), RecordingSink()
    pipeline = Pipeline(GuardChain([]), [selective, everything], max_calls=10, call_idle_seconds=60)
    exchange = pipeline.open_exchange(
        CallContext(), route="openai", info=REALTIME, transport="websocket", method="GET", path="/"
    )
    assert exchange is not None
    chunk = AudioChunk(Direction.TO_UPSTREAM, 960, 0.02, "pcm16", 24_000)

    pipeline.process(exchange, [chunk], Direction.TO_UPSTREAM)
    pipeline.finish_exchange(exchange, status=101)

    assert [type(r) for r in selective.records] == [ExchangeFinished]
    assert [r.event for r in everything.of(EventObserved)] == [chunk]
    assert len(everything.records) > len(selective.records)
