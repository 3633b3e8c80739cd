"""Which policy a call gets: jurisdiction from header, caller number or default; pinned across reloads."""

from __future__ import annotations

from tests.policy_dirs import SHIPPED
from voiceguard.events import CallerInfo, Direction, PolicyDecision, Stage
from voiceguard.guards.policy_context import PolicyContextGuard
from voiceguard.policy.context import PolicyStore, bind, policy_of
from voiceguard.policy.loader import load_policy_set
from voiceguard.testing import guard_context, make_call, run_guard

POLICY = load_policy_set(SHIPPED)


def store(default: str | None = "EU", operator: tuple[str, ...] = ()) -> PolicyStore:
    return PolicyStore(POLICY, default_jurisdiction=default, operator_jurisdictions=operator)


def test_the_header_wins_over_the_callers_number() -> None:
    call = make_call(jurisdiction="us-tx", subject="+13125550100")
    policy = bind(call, store())
    assert (policy.jurisdiction, policy.source) == ("US-TX", "header")


def test_without_a_header_the_subjects_e164_number_places_the_call() -> None:
    policy = bind(make_call(subject="+13125550100"), store())
    assert (policy.jurisdiction, policy.source, policy.applied.scope) == (
        "US-IL",
        "subject",
        ("US-IL", "US", "*"),
    )
    assert "bipa" in policy.applied.matching


def test_without_either_the_configured_default_applies_or_only_global_rules() -> None:
    assert bind(make_call(subject="account-7"), store()).applied.scope == ("EU", "*")
    none = bind(make_call(), store(default=None))
    assert (none.jurisdiction, none.source, none.applied.scope) == (None, "none", ("*",))


def test_operator_jurisdictions_apply_to_every_call() -> None:
    policy = bind(make_call(jurisdiction="US-IL"), store(operator=("DE",)))
    assert policy.applied.scope == ("US-IL", "US", "DE", "EU", "*")
    assert {"bipa", "gdpr"} <= set(policy.applied.matching)


def test_a_caller_number_from_telephony_reresolves_the_call_and_is_reported_again() -> None:
    guard = PolicyContextGuard(store())
    call = make_call()
    ctx = guard_context(call, Stage.TELEPHONY, Direction.TO_UPSTREAM, "twilio", "media")
    first = run_guard(guard, ctx, CallerInfo(call_sid="CA1"))
    second = run_guard(guard, ctx, CallerInfo(phone_number="+15125550100", call_sid="CA1"))
    third = run_guard(guard, ctx, CallerInfo(phone_number="+15125550100", call_sid="CA1"))
    reports = [e for e in first + second + third if isinstance(e, PolicyDecision)]
    assert [dict(r.evidence)["jurisdiction"] for r in reports] == ["EU", "US-TX"]
    assert dict(reports[1].evidence)["source"] == "caller"
    assert policy_of(call) is not None and policy_of(call).jurisdiction == "US-TX"  # type: ignore[union-attr]


def test_a_call_keeps_the_policy_set_it_started_with_across_a_reload() -> None:
    policies = store()
    call = make_call(jurisdiction="DE")
    before = bind(call, policies)
    policies.swap(load_policy_set(SHIPPED))
    assert bind(call, policies) is before
    assert bind(make_call(jurisdiction="DE"), policies).applied is not before.applied
