"""A telephony stream's caller becomes the call's subject, unless the client named one, whatever guards do."""

from __future__ import annotations

from collections.abc import Iterable

from voiceguard.events import CallerInfo, Direction, Event, Stage
from voiceguard.guards.base import GuardChain, GuardContext
from voiceguard.pipeline import Pipeline
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.session import Call, CallContext

PHONE = ExchangeInfo("twilio", "media_stream", Stage.TELEPHONY)


class HoldCallerInfo:
    name = "hold"

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if not isinstance(event, CallerInfo):
            yield event


def pipeline(*guards: HoldCallerInfo) -> Pipeline:
    return Pipeline(GuardChain(guards), [], max_calls=10, call_idle_seconds=60)


def test_the_caller_number_names_a_call_that_had_no_subject() -> None:
    flow = pipeline(HoldCallerInfo())
    exchange = flow.open_exchange(
        CallContext(), route="phone", info=PHONE, transport="websocket", method="GET", path="/media"
    )
    assert exchange is not None
    out = flow.process(exchange, [CallerInfo("+13125550100", "CA1")], Direction.TO_UPSTREAM)
    assert out == []
    assert exchange.call.subject == "+13125550100" and exchange.call.caller_number == "+13125550100"


def test_a_subject_the_client_declared_is_kept() -> None:
    flow = pipeline()
    exchange = flow.open_exchange(
        CallContext(subject="customer-42"),
        route="phone",
        info=PHONE,
        transport="websocket",
        method="GET",
        path="/",
    )
    assert exchange is not None
    flow.process(exchange, [CallerInfo("+4930123", None)], Direction.TO_UPSTREAM)
    assert exchange.call.subject == "customer-42" and exchange.call.caller_number == "+4930123"
    flow.process(exchange, [CallerInfo(None, "CA2")], Direction.TO_UPSTREAM)
    assert exchange.call.caller_number == "+4930123"
