"""Strictest wins: merging the rules of every matching pack into one setting per control."""

from __future__ import annotations

from types import MappingProxyType

from voiceguard.policy.merge import merge_rules, merge_values
from voiceguard.policy.model import Action, Rule, freeze


def make_rule(rule_id: str, action: str, parameters: dict[str, object]) -> Rule:
    return Rule(
        id=rule_id,
        title="t",
        control="pii",
        action=Action(action),
        jurisdictions=("*",),
        evidence=(rule_id.lower(),),
        source="s",
        pack="p",
        parameters=freeze(parameters),  # type: ignore[arg-type]
    )


def test_the_strictest_action_wins_whatever_the_order() -> None:
    rules = [make_rule("A-1", "observe", {}), make_rule("B-1", "block", {}), make_rule("C-1", "enforce", {})]
    control = merge_rules("pii", rules)
    assert control.action is Action.BLOCK
    assert control.rules == ("A-1", "B-1", "C-1")
    assert control.evidence == ("a-1", "b-1", "c-1")


def test_pii_modes_merge_per_entity_and_flow_to_the_stricter_mode() -> None:
    defaults = make_rule("PII-1", "enforce", {"entities": {"CVV": {"llm": "pseudonymize", "speech": "off"}}})
    stricter = make_rule("PCI-1", "enforce", {"entities": {"CVV": {"llm": "observe", "speech": "redact"}}})
    merged = merge_rules("pii", [defaults, stricter]).parameters["entities"]
    assert isinstance(merged, MappingProxyType)
    assert dict(merged["CVV"]) == {"llm": "pseudonymize", "speech": "redact"}


def test_numbers_booleans_and_lists_follow_the_documented_conventions() -> None:
    first = freeze(
        {"max_retention_days": 1095, "min_retention_days": 90, "require_x": False, "features": ["a"]}
    )
    second = freeze(
        {"max_retention_days": 365, "min_retention_days": 365, "require_x": True, "features": ["b", "a"]}
    )
    merged = merge_values(first, second)
    assert isinstance(merged, MappingProxyType)
    assert dict(merged) == {
        "max_retention_days": 365,
        "min_retention_days": 365,
        "require_x": True,
        "features": ("a", "b"),
    }


def test_free_text_comes_from_the_most_specific_rule() -> None:
    assert merge_values(freeze({"text": "state"}), freeze({"text": "global"})) == {"text": "state"}
