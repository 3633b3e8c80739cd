"""The PII modes of each call, as the PII guard uses them: resolved from the call's packs, then prepared.

``voiceguard.policy.pii`` says which mode applies to which entity (packs, then the operator's overrides);
this module adds what the guard derives once per policy rather than per text (which entities to look for,
whether NER runs) and caches it per resolved policy, so a call costs one dictionary lookup per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from voiceguard.pii.entities import NER_ENTITIES, Finding
from voiceguard.pii.policy import Flow, PiiMode, PiiPolicy
from voiceguard.policy.context import PolicyStore, bind
from voiceguard.policy.model import AppliedPolicy
from voiceguard.policy.pii import PiiOverrides, pii_policy
from voiceguard.session import Call

MAX_CACHED_POLICIES: Final = 256


@dataclass(frozen=True, slots=True)
class CallModes:
    """A ``PiiPolicy`` with what the guard derives from it once: entities looked for, and whether NER runs."""

    policy: PiiPolicy
    entities: Mapping[Flow, frozenset[str]]
    ner: Mapping[Flow, bool]


class ModesByCall:
    """Each call's modes: its packs (pinned when the call was first resolved) plus the overrides, or one
    fixed policy when there is no policy store."""

    def __init__(
        self,
        fallback: PiiPolicy,
        overrides: PiiOverrides,
        policies: PolicyStore | None,
        *,
        uses_ner: bool,
        observe_ner: bool,
    ) -> None:
        self.overrides = overrides
        self.policies = policies
        self.uses_ner = uses_ner
        self.observe_ner = observe_ner
        self.fallback = self.prepare(fallback)
        self._cache: dict[int, tuple[AppliedPolicy, CallModes]] = {}

    def prepare(self, policy: PiiPolicy) -> CallModes:
        entities = {flow: policy.entities(flow) for flow in Flow}
        ner = {
            flow: self.uses_ner
            and bool(entities[flow] & NER_ENTITIES)
            and (self.observe_ner or bool(policy.acting(flow) & NER_ENTITIES))
            for flow in Flow
        }
        return CallModes(policy, entities, ner)

    def of(self, call: Call) -> CallModes:
        if self.policies is None:
            return self.fallback
        applied = bind(call, self.policies).applied
        cached = self._cache.get(id(applied))
        if cached is not None and cached[0] is applied:
            return cached[1]
        modes = self.prepare(pii_policy(applied, self.overrides))
        if len(self._cache) >= MAX_CACHED_POLICIES:
            self._cache.clear()
        self._cache[id(applied)] = (applied, modes)
        return modes


def count_by_rule(
    policy: PiiPolicy, flow: Flow, findings: Iterable[Finding]
) -> dict[tuple[PiiMode, str], dict[str, int]]:
    """Findings counted by entity type, grouped by mode and by the rule that set it (``off`` left out)."""
    counts: dict[tuple[PiiMode, str], dict[str, int]] = {}
    for finding in findings:
        kind = finding.entity_type
        mode = policy.mode(flow, kind)
        if mode is PiiMode.OFF:
            continue
        per_type = counts.setdefault((mode, policy.rule_for(flow, kind)), {})
        per_type[kind] = per_type.get(kind, 0) + 1
    return counts
