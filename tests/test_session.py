"""Calls: joined by id, bounded, expired when idle, and ended with their last exchange when unnamed."""

from __future__ import annotations

from voiceguard.session import Call, CallContext, CallRegistry

S = 1_000_000_000


def registry(max_calls: int = 10, idle: float = 60) -> tuple[CallRegistry, list[Call]]:
    ended: list[Call] = []
    return CallRegistry(max_calls, idle, on_end=ended.append), ended


def test_requests_with_the_same_call_id_join_one_call() -> None:
    calls, _ended = registry()
    first = calls.open(CallContext(call_id="c1", jurisdiction="US-IL"), 0)
    second = calls.open(CallContext(call_id="c1", subject="+1312"), 1)
    assert first is not None and second is not None
    assert first[0] is second[0] and (first[1], second[1]) == (True, False)
    assert (second[0].jurisdiction, second[0].subject, second[0].active_exchanges) == ("US-IL", "+1312", 2)


def test_an_unnamed_call_ends_with_its_only_exchange() -> None:
    calls, ended = registry()
    opened = calls.open(CallContext(), 0)
    assert opened is not None
    assert calls.release(opened[0], 1) is True
    assert ended == [opened[0]] and len(calls) == 0


def test_named_calls_expire_when_idle() -> None:
    calls, ended = registry(idle=60)
    opened = calls.open(CallContext(call_id="c1"), 0)
    assert opened is not None
    calls.release(opened[0], 0)
    assert calls.expire(59 * S) == []
    assert calls.expire(60 * S) == [opened[0]] and ended == [opened[0]]


def test_a_full_registry_evicts_an_idle_call_or_refuses() -> None:
    calls, ended = registry(max_calls=2)
    a = calls.open(CallContext(call_id="a"), 0)
    b = calls.open(CallContext(call_id="b"), 0)
    assert a is not None and b is not None
    assert calls.open(CallContext(call_id="c"), 1) is None  # both busy
    calls.release(a[0], 2)
    assert calls.open(CallContext(call_id="c"), 3) is not None
    assert ended == [a[0]]


def test_scratch_state_is_per_call() -> None:
    calls, _ended = registry()
    one = calls.open(CallContext(call_id="1"), 0)
    two = calls.open(CallContext(call_id="2"), 0)
    assert one is not None and two is not None
    one[0].scratch("pii", dict)["x"] = 1
    assert two[0].scratch("pii", dict) == {}
    assert one[0].scratch("pii", dict) == {"x": 1}


def test_a_call_known_by_an_alias_is_joined_under_it_until_it_ends() -> None:
    calls, _ended = registry()
    opened = calls.open(CallContext(), 0)  # a Twilio socket: unnamed, a random id
    assert opened is not None
    socket_call = opened[0]
    assert calls.alias(socket_call, "CA42")
    joined = calls.open(CallContext(call_id="CA42"), 1)
    assert joined is not None and joined == (socket_call, False) and len(calls) == 1
    assert calls.release(socket_call, 2) is False  # the joined exchange keeps the call alive
    assert calls.release(socket_call, 3) is True
    again = calls.open(CallContext(call_id="CA42"), 4)
    assert again is not None and again[0] is not socket_call and again[1] is True


def test_an_alias_never_takes_over_a_call_that_already_has_that_name() -> None:
    calls, _ended = registry()
    named = calls.open(CallContext(call_id="CA42"), 0)
    socket = calls.open(CallContext(), 0)
    assert named is not None and socket is not None
    assert not calls.alias(socket[0], "CA42")
    assert calls.get("CA42") is named[0]
