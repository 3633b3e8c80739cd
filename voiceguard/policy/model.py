"""The typed, frozen form of the policy packs: what guards read on the hot path, without locks.

A ``PolicySet`` is every pack loaded from one directory, with each pack's sha256 and version; it is never
changed in place. Reloading builds a new set and swaps it in whole, so a call that started under one set
keeps a consistent view of it (``AppliedPolicy`` is what applies to one call's jurisdictions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

Param: TypeAlias = "str | int | float | bool | tuple[Param, ...] | Mapping[str, Param] | None"
"""A parameter value as a pack states it, deeply frozen (mappings are read-only, lists are tuples)."""


class Action(StrEnum):
    """What the guard does when a rule's condition is not met. Ordered: block > enforce > observe."""

    OBSERVE = "observe"
    """Record a violation decision; change nothing on the wire."""
    ENFORCE = "enforce"
    """Repair the traffic (inject, strip, redact) so the rule holds, and record what was done."""
    BLOCK = "block"
    """Refuse the exchange (the contract's error, or a WebSocket close), and record it."""

    @property
    def strictness(self) -> int:
        return _ACTION_ORDER.index(self)


_ACTION_ORDER = (Action.OBSERVE, Action.ENFORCE, Action.BLOCK)


def freeze(value: object) -> Param:
    """Deep-freeze a parsed YAML value so that nobody can change a policy in force by accident."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(key): freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # dates and other YAML scalars: kept as their text


def _empty() -> Mapping[str, Param]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a pack: where it applies, what it controls, what the guard does, what it records."""

    id: str
    title: str
    control: str
    action: Action
    jurisdictions: tuple[str, ...]
    evidence: tuple[str, ...]
    source: str
    pack: str
    parameters: Mapping[str, Param] = field(default_factory=_empty)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PackRef:
    """Which pack, which version, which exact bytes: what an audit record names as the policy in force."""

    name: str
    version: str
    sha256: str

    def label(self) -> str:
        return f"{self.name}@{self.version}#{self.sha256[:16]}"


@dataclass(frozen=True, slots=True)
class Pack:
    name: str
    version: str
    title: str
    path: str
    sha256: str
    jurisdictions: tuple[str, ...]
    rules: tuple[Rule, ...]
    enabled: bool = True
    description: str = ""

    @property
    def ref(self) -> PackRef:
        return PackRef(self.name, self.version, self.sha256)


@dataclass(frozen=True, slots=True)
class Control:
    """The effective setting of one control for a call, after merging every matching rule (strictest wins)."""

    name: str
    action: Action
    rules: tuple[str, ...]
    """Ids of the rules that contributed, most specific jurisdiction first."""
    parameters: Mapping[str, Param] = field(default_factory=_empty)
    evidence: tuple[str, ...] = ()
    sources: tuple[Rule, ...] = ()
    """The rules themselves, in the order of ``rules``: for guards whose decision differs per rule (which
    rule gates which biometric feature, which rule set a PII entity's mode), where the merged view is not
    enough."""


def digest_of(refs: tuple[PackRef, ...]) -> str:
    """One sha256 over the packs in force: short enough for every decision, verifiable against the list."""
    ordered = sorted(refs, key=lambda ref: ref.name)
    material = "\n".join(f"{ref.name} {ref.version} {ref.sha256}" for ref in ordered)
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AppliedPolicy:
    """What applies to a call whose jurisdictions are ``scope`` (most specific first, ending in ``*``)."""

    scope: tuple[str, ...]
    packs: tuple[PackRef, ...]
    """Every enabled pack in force (what an audit record names), whether or not it has rules for ``scope``."""
    matching: tuple[str, ...]
    """Names of the packs with at least one rule for ``scope``."""
    controls: Mapping[str, Control]
    digest: str
    """``digest_of(packs)``: one hash that pins the whole policy set in force."""

    def control(self, name: str) -> Control | None:
        return self.controls.get(name)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Every pack loaded from one directory; immutable, swapped whole on reload."""

    packs: tuple[Pack, ...]
    directory: str
    _applied: dict[tuple[str, ...], AppliedPolicy] = field(default_factory=dict, compare=False, repr=False)

    @property
    def refs(self) -> tuple[PackRef, ...]:
        return tuple(pack.ref for pack in self.packs if pack.enabled)

    @property
    def digest(self) -> str:
        return digest_of(self.refs)

    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for pack in self.packs if pack.enabled for rule in pack.rules)

    def applied(self, scope: tuple[str, ...]) -> AppliedPolicy:
        """The merged policy for a jurisdiction scope; computed once per scope and cached on this set."""
        cached = self._applied.get(scope)
        if cached is None:
            from voiceguard.policy.merge import apply

            cached = apply(self, scope)
            self._applied[scope] = cached
        return cached
