"""The PII modes that apply to a call: the packs in force decide, the operator's ``pii.modes`` sit on top.

Precedence, per entity and flow (``llm``, ``speech``):

1. ``pii.modes`` in the configuration, where it names the entity in that flow: the operator's choice wins,
   stricter or looser, and its decisions are reported under ``pii.rule_id`` with ``override=config``;
2. otherwise the ``pii`` rules of every pack that matches the call, merged strictest first
   (``off < observe < pseudonymize < redact < block``, see ``merge.py``), reported under the rule that set
   the winning mode (``PII-DEFAULTS``, ``PCI-3.3.1.2``, ...);
3. a policy set with no ``pii`` rule at all for the call falls back to the embedded defaults
   (``voiceguard.pii.policy``), so removing the defaults pack never switches PII handling off.

An entity a matching rule does not name in a flow is ``off`` there (unless another rule names it).
Evidence names the packs that contributed (``pack.<name>`` = ``<version>@<sha256>``) and the policy digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from voiceguard.pii.policy import DEFAULT_LLM_MODES, DEFAULT_SPEECH_MODES, Flow, PiiMode, PiiPolicy
from voiceguard.policy.model import AppliedPolicy, Control, Param

CONTROL: Final = "pii"
EMBEDDED: Final = "embedded-defaults"


def _empty() -> Mapping[str, PiiMode]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PiiOverrides:
    """What the operator's configuration sets on top of the packs (``pii.modes``, ``pii.score_threshold``)."""

    llm: Mapping[str, PiiMode] = field(default_factory=_empty)
    speech: Mapping[str, PiiMode] = field(default_factory=_empty)
    score_threshold: float | None = None
    rule_id: str = "PII"

    def modes(self, flow: Flow) -> Mapping[str, PiiMode]:
        return self.llm if flow is Flow.LLM else self.speech


def _entities(parameters: Mapping[str, Param]) -> Mapping[str, Param]:
    entities = parameters.get("entities")
    return entities if isinstance(entities, Mapping) else {}


def _stated(parameters: Mapping[str, Param], entity: str, flow: Flow) -> PiiMode | None:
    per_flow = _entities(parameters).get(entity)
    if not isinstance(per_flow, Mapping):
        return None
    value = per_flow.get(flow.value)
    try:
        return PiiMode(value) if isinstance(value, str) else None
    except ValueError:
        return None  # lint refuses unknown modes; a mode this guard cannot read is left to the others


def _from_packs(
    control: Control,
) -> tuple[dict[Flow, dict[str, PiiMode]], dict[tuple[Flow, str], str], set[str], float | None]:
    modes: dict[Flow, dict[str, PiiMode]] = {flow: {} for flow in Flow}
    origins: dict[tuple[Flow, str], str] = {}
    packs: set[str] = set()
    for entity in _entities(control.parameters):
        for flow in Flow:
            mode = _stated(control.parameters, entity, flow)
            if mode is None:
                continue
            modes[flow][entity] = mode
            rule = next((r for r in control.sources if _stated(r.parameters, entity, flow) is mode), None)
            if rule is not None:
                origins[(flow, entity)] = rule.id
                packs.add(rule.pack)
    threshold = control.parameters.get("score_threshold")
    score = None
    if isinstance(threshold, int | float) and not isinstance(threshold, bool):
        score = float(threshold)
    return modes, origins, packs, score


def pii_policy(applied: AppliedPolicy | None, overrides: PiiOverrides) -> PiiPolicy:
    """The modes for a call under ``applied`` (``None``: no policy store, the embedded defaults)."""
    control = applied.control(CONTROL) if applied is not None else None
    evidence: list[tuple[str, str]] = []
    if control is None:
        modes = {Flow.LLM: dict(DEFAULT_LLM_MODES), Flow.SPEECH: dict(DEFAULT_SPEECH_MODES)}
        origins: dict[tuple[Flow, str], str] = {}
        version = EMBEDDED
        score = None
    else:
        assert applied is not None
        modes, origins, packs, score = _from_packs(control)
        refs = [ref for ref in applied.packs if ref.name in packs]
        version = "+".join(ref.label() for ref in refs) or EMBEDDED
        evidence.append(("policy_digest", applied.digest))
        evidence.extend((f"pack.{ref.name}", f"{ref.version}@{ref.sha256}") for ref in refs)
    overridden = False
    for flow in Flow:
        for entity, mode in overrides.modes(flow).items():
            overridden = overridden or modes[flow].get(entity) is not mode
            modes[flow][entity] = mode
            origins.pop((flow, entity), None)
    if overrides.score_threshold is not None:
        overridden = overridden or score != overrides.score_threshold
        score = overrides.score_threshold
    if overridden:
        version = f"{version}+config" if version != EMBEDDED else "config"
        evidence.append(("override", "config"))
    return PiiPolicy(
        llm=MappingProxyType(modes[Flow.LLM]),
        speech=MappingProxyType(modes[Flow.SPEECH]),
        rule_id=overrides.rule_id,
        version=version,
        origins=MappingProxyType(origins),
        evidence=tuple(evidence),
        score_threshold=score,
    )
