"""Which policy applies to a call: its jurisdiction, where that came from, and the packs in force.

The jurisdiction is taken from the first of: the ``X-VoiceGuard-Jurisdiction`` header (already on
``call.jurisdiction``); the caller's E.164 number, from ``X-VoiceGuard-Subject`` when it is one, or from a
``CallerInfo`` event (a telephony adapter); the configured default. The configured operator jurisdictions
(where the business itself is established) are always added.

A call is pinned to the ``PolicySet`` in force when it was first resolved, so a reload mid-call never
changes the rules under a running conversation; new calls get the new set. The result sits on the call
(``policy_of``) so that guards and the audit sink read the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from voiceguard.policy import jurisdiction
from voiceguard.policy.model import AppliedPolicy, PolicySet
from voiceguard.session import Call

Source = Literal["header", "subject", "caller", "default", "none"]

_SLOT: Final = "voiceguard.policy.call"


class PolicyStore:
    """The ``PolicySet`` in force for this process; reloading replaces ``current`` in one assignment."""

    __slots__ = ("current", "default_jurisdiction", "generation", "operator_jurisdictions")

    def __init__(
        self,
        policy: PolicySet,
        *,
        default_jurisdiction: str | None = None,
        operator_jurisdictions: tuple[str, ...] = (),
    ) -> None:
        self.current = policy
        self.default_jurisdiction = default_jurisdiction
        self.operator_jurisdictions = operator_jurisdictions
        self.generation = 1

    def swap(self, policy: PolicySet) -> None:
        self.current = policy
        self.generation += 1


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """The resolved policy of one call (no personal data: the caller's number is never kept here)."""

    jurisdiction: str | None
    source: Source
    applied: AppliedPolicy


class _Slot:
    __slots__ = ("caller", "inputs", "policy", "resolved")

    def __init__(self) -> None:
        self.policy: PolicySet | None = None
        self.caller: str | None = None
        self.inputs: tuple[object, ...] | None = None
        self.resolved: CallPolicy | None = None


def _slot(call: Call) -> _Slot:
    return call.scratch(_SLOT, _Slot)


def scope_of(code: str | None, operator: tuple[str, ...]) -> tuple[str, ...]:
    """Every jurisdiction whose rules apply: the call's chain, then the operator's, ``*`` last."""
    codes: list[str] = []
    for item in (code, *operator):
        if item:
            codes.extend(c for c in jurisdiction.chain(item) if c != jurisdiction.GLOBAL)
    return (*dict.fromkeys(codes), jurisdiction.GLOBAL)


def _pick(call: Call, slot: _Slot, default: str | None) -> tuple[str | None, Source]:
    if call.jurisdiction:
        return jurisdiction.normalise(call.jurisdiction), "header"
    if call.subject and (found := jurisdiction.from_e164(call.subject)):
        return found, "subject"
    if slot.caller:
        return slot.caller, "caller"
    if default:
        return jurisdiction.normalise(default), "default"
    return None, "none"


def bind(call: Call, store: PolicyStore) -> CallPolicy:
    """The call's policy, resolved on first use and again whenever what it was resolved from changed."""
    slot = _slot(call)
    if slot.policy is None:
        slot.policy = store.current
    # the subject is a caller's number: keep only its (process-local) hash as the cache key, never the number
    inputs = (call.jurisdiction, hash(call.subject), slot.caller)
    if slot.resolved is not None and slot.inputs == inputs:
        return slot.resolved
    code, source = _pick(call, slot, store.default_jurisdiction)
    applied = slot.policy.applied(scope_of(code, store.operator_jurisdictions))
    slot.inputs = inputs
    slot.resolved = CallPolicy(code, source, applied)
    return slot.resolved


def applied_in(call: Call, store: PolicyStore, code: str) -> AppliedPolicy:
    """What would apply to ``call`` in jurisdiction ``code``, under the policy set the call is pinned to.

    For a setting that names a jurisdiction for calls whose own is unknown (``biometrics.
    treat_unknown_jurisdiction_as``) without changing what the rest of the call is bound to.
    """
    slot = _slot(call)
    if slot.policy is None:
        slot.policy = store.current
    return slot.policy.applied(scope_of(code, store.operator_jurisdictions))


def note_caller(call: Call, phone_number: str) -> bool:
    """Remember the jurisdiction of the caller's number (from ``CallerInfo``); True when it changed."""
    found = jurisdiction.from_e164(phone_number)
    slot = _slot(call)
    if found is None or found == slot.caller:
        return False
    slot.caller = found
    return True


def policy_of(call: Call) -> CallPolicy | None:
    """What applies to ``call`` once a guard resolved it; sinks (the audit log) read pack hashes here."""
    return _slot(call).resolved


def audit_fields(store: PolicyStore) -> Callable[[Call], Mapping[str, str]]:
    """What every audit record of a call names as the policy in force: one digest, then each pack's hash.

    A call whose policy a guard has not resolved yet is recorded against the set in force right now.
    """

    def fields(call: Call) -> Mapping[str, str]:
        resolved = policy_of(call)
        if resolved is not None:
            refs, digest = resolved.applied.packs, resolved.applied.digest
        else:
            current = store.current
            refs, digest = current.refs, current.digest
        named = {"pack": digest}
        named.update({ref.name: f"{ref.version}#{ref.sha256}" for ref in refs})
        return named

    return fields
