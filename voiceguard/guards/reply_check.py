"""Judging one agent reply against what it must say about being an AI, and repairing it where allowed.

A ``Requirement`` is pending for a stage of a call (the first reply must carry a disclosure; the reply after
"am I talking to a robot?" must admit it). ``judge`` looks at the reply's opening text and returns what to
put in front of it and one verdict per requirement; the disclosure guard turns verdicts into decisions.
An injected text that already satisfies a later requirement (a disclosure is also an admission) is not
followed by a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from voiceguard.guards.base import Blocked
from voiceguard.policy.disclosure import PhraseSet, VersionedText
from voiceguard.policy.model import Action

BLOCK_STATUS = 451
"""Unavailable For Legal Reasons: the reply would have broken a transparency rule."""

Delivery = Literal["verified", "injected", "missing"]


@dataclass(frozen=True, slots=True)
class Requirement:
    """Something the next agent reply of one stage must say."""

    rule_id: str
    kind: Literal["disclosure", "admission"]
    action: Action
    text: VersionedText
    accepted: PhraseSet
    denials: PhraseSet
    window: int
    """The phrase must start within this many characters of the reply (0: anywhere in what was seen)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    requirement: Requirement
    delivery: Delivery
    denied: bool
    """The reply said the opposite ("I'm a real person"): a violation even when repaired."""

    @property
    def outcome(self) -> str:
        if self.denied or self.delivery == "missing":
            return "violation"
        return "repaired" if self.delivery == "injected" else "compliant"


@dataclass(frozen=True, slots=True)
class Judgement:
    prefix: str
    """Text to put in front of the reply ("" when nothing is injected)."""
    verdicts: tuple[Verdict, ...]


def satisfied(requirement: Requirement, text: str) -> bool:
    """Whether ``text`` (the reply so far) already says what the requirement asks, without a denial."""
    before = requirement.window or None
    return requirement.accepted.search(text, before) and not requirement.denials.search(text)


def judge(requirements: tuple[Requirement, ...], text: str, *, can_inject: bool) -> Judgement:
    """Verdicts for a reply opening with ``text``; raises ``Blocked`` when a failing rule blocks."""
    injected: list[str] = []
    verdicts: list[Verdict] = []
    for requirement in requirements:
        denied = requirement.denials.search(text)
        if not denied and requirement.accepted.search(text, requirement.window or None):
            verdicts.append(Verdict(requirement, "verified", False))
            continue
        if requirement.action is Action.BLOCK:
            what = "denies being an AI" if denied else f"lacks the required AI {requirement.kind}"
            raise Blocked(
                requirement.rule_id,
                f"the agent's reply {what}",
                status=BLOCK_STATUS,
                evidence=(("kind", requirement.kind), ("denied", str(denied).lower())),
            )
        if requirement.action is Action.ENFORCE and can_inject:
            already = " ".join(injected)
            if not (already and requirement.accepted.search(already)):
                injected.append(requirement.text.text)
            verdicts.append(Verdict(requirement, "injected", denied))
        else:
            verdicts.append(Verdict(requirement, "missing", denied))
    prefix = " ".join(injected)
    return Judgement(prefix + " " if prefix else "", tuple(verdicts))
