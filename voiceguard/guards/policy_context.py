"""Resolves which policy applies to each call and records it, before any other guard looks at an event.

The decision it reports (``VG-POLICY-APPLIED``) names the call's jurisdiction, where that came from, and
the version and sha256 of every pack in force, so the audit trail of a call says exactly which policy text
governed it. A caller number that arrives later (a telephony ``CallerInfo``) re-resolves the call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from voiceguard.events import CallerInfo, Event, PolicyDecision
from voiceguard.guards.base import GuardContext
from voiceguard.policy.context import CallPolicy, PolicyStore, bind, note_caller
from voiceguard.session import Call

RULE_ID: Final = "VG-POLICY-APPLIED"
_REPORTED: Final = "voiceguard.guards.policy_context"


class _Reported:
    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: CallPolicy | None = None


def policy_evidence(policy: CallPolicy) -> tuple[tuple[str, str], ...]:
    """The jurisdiction, its source, and each pack in force as ``pack.<name>`` = ``<version>@<sha256>``."""
    evidence = [
        ("jurisdiction", policy.jurisdiction or "*"),
        ("source", policy.source),
        ("scope", " ".join(policy.applied.scope)),
        ("policy_digest", policy.applied.digest),
    ]
    evidence.extend((f"pack.{ref.name}", f"{ref.version}@{ref.sha256}") for ref in policy.applied.packs)
    return tuple(evidence)


class PolicyBoundGuard:
    """What every guard reading the policy packs shares: the store, and the call bound at its start."""

    def __init__(self, store: PolicyStore) -> None:
        self.store = store

    def start(self, call: Call) -> None:
        bind(call, self.store)

    def finish(self, call: Call) -> None:
        """Nothing is kept outside the call (per-call state lives in ``Call.scratch``)."""


class PolicyContextGuard(PolicyBoundGuard):
    """Binds every call to the policy in force and reports it once per resolution."""

    name = "policy"

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        call = ctx.call
        if isinstance(event, CallerInfo) and event.phone_number:
            note_caller(call, event.phone_number)
        policy = bind(call, self.store)
        reported = call.scratch(_REPORTED, _Reported)
        if reported.last is policy:
            return (event,)
        reported.last = policy
        decision = PolicyDecision(RULE_ID, "observe", "resolved", evidence=policy_evidence(policy))
        return (decision, event)
