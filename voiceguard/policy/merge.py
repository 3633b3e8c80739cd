"""Strictest wins: how the rules of every pack that matches a call are merged into one setting per control.

Several rules can speak to the same control for one call (the global disclosure rule and a stricter one
for Germany; the PII defaults and the PCI pack). They are merged pairwise, most specific jurisdiction
first, then in pack order (file name):

- **action**: ``block`` > ``enforce`` > ``observe``;
- **mappings**: merged key by key, recursively;
- **ordered vocabularies** (actions, and the PII modes ``off < observe < pseudonymize < redact < block``):
  the stricter value;
- **numbers**: the smaller (by convention a numeric parameter is a maximum: a retention period, a window,
  a score threshold), except under a key starting with ``min_`` (a minimum retention), where the larger;
- **booleans**: ``true`` (by convention flags are requirements: ``require_…``);
- **lists**: the union, in order of first appearance;
- **anything else** (texts, ids): the value of the most specific rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

from voiceguard.policy.model import Action, AppliedPolicy, Control, Param, PolicySet, Rule, digest_of

PII_MODES: Final = ("off", "observe", "pseudonymize", "redact", "block")
"""How a PII entity is treated on one channel, from loosest to strictest."""

_VOCABULARIES: Final[tuple[tuple[str, ...], ...]] = (
    tuple(action.value for action in Action),
    PII_MODES,
)


def _stricter_word(a: str, b: str) -> str | None:
    for vocabulary in _VOCABULARIES:
        if a in vocabulary and b in vocabulary:
            return a if vocabulary.index(a) >= vocabulary.index(b) else b
    return None


def merge_values(first: Param, second: Param, key: str = "") -> Param:
    """Merge two values found under ``key``; ``first`` comes from the more specific rule."""
    if isinstance(first, Mapping) and isinstance(second, Mapping):
        merged: dict[str, Param] = dict(first)
        for name, value in second.items():
            merged[name] = merge_values(merged[name], value, name) if name in merged else value
        return MappingProxyType(merged)
    if isinstance(first, bool) and isinstance(second, bool):
        return first or second
    if isinstance(first, int | float) and isinstance(second, int | float) and not isinstance(second, bool):
        return max(first, second) if key.startswith("min_") else min(first, second)
    if isinstance(first, tuple) and isinstance(second, tuple):
        return tuple(dict.fromkeys((*first, *second)))
    if isinstance(first, str) and isinstance(second, str):
        return _stricter_word(first, second) or first
    return first if first is not None else second


def merge_rules(control: str, rules: Sequence[Rule]) -> Control:
    """One control's effective setting from its rules, ordered most specific first."""
    action = max((rule.action for rule in rules), key=lambda item: item.strictness)
    parameters: Param = MappingProxyType({})
    evidence: tuple[str, ...] = ()
    for rule in rules:
        parameters = merge_values(parameters, rule.parameters)
        evidence = tuple(dict.fromkeys((*evidence, *rule.evidence)))
    assert isinstance(parameters, Mapping)
    return Control(control, action, tuple(rule.id for rule in rules), parameters, evidence, tuple(rules))


def matching_rules(policy: PolicySet, scope: tuple[str, ...]) -> list[tuple[int, int, Rule]]:
    """Rules whose jurisdictions meet ``scope``, with (specificity, pack order) for sorting."""
    found: list[tuple[int, int, Rule]] = []
    for order, pack in enumerate(policy.packs):
        if not pack.enabled:
            continue
        for rule in pack.rules:
            ranks = [scope.index(code) for code in rule.jurisdictions if code in scope]
            if ranks:
                found.append((min(ranks), order, rule))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


def apply(policy: PolicySet, scope: tuple[str, ...]) -> AppliedPolicy:
    """Everything that applies to a call in ``scope``: the packs involved and one setting per control."""
    matched = matching_rules(policy, scope)
    by_control: dict[str, list[Rule]] = {}
    for _, _, rule in matched:
        by_control.setdefault(rule.control, []).append(rule)
    controls = {name: merge_rules(name, rules) for name, rules in by_control.items()}
    names = {rule.pack for _, _, rule in matched}
    matching = tuple(pack.name for pack in policy.packs if pack.name in names)
    refs = policy.refs
    return AppliedPolicy(scope, refs, matching, MappingProxyType(controls), digest_of(refs))
