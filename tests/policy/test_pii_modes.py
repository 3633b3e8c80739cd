"""The PII modes of a call: the packs that match it (strictest wins), then the operator's overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tests.policy_dirs import policy_dir, rule
from voiceguard.pii.policy import DEFAULT_POLICY, Flow, PiiMode
from voiceguard.policy.context import scope_of
from voiceguard.policy.loader import default_directory, load_policy_set
from voiceguard.policy.pii import PiiOverrides, pii_policy

SHIPPED = load_policy_set(default_directory())
EVERYWHERE = SHIPPED.applied(scope_of(None, ()))


def test_the_shipped_packs_give_the_embedded_defaults_plus_pci_security_codes_in_transcripts() -> None:
    policy = pii_policy(EVERYWHERE, PiiOverrides())
    for entity in ("CREDIT_CARD", "CVV", "US_SSN", "US_BANK_NUMBER", "IBAN_CODE"):
        assert policy.mode(Flow.LLM, entity) is PiiMode.PSEUDONYMIZE, entity
    for entity in ("PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "LOCATION"):
        assert policy.mode(Flow.LLM, entity) is PiiMode.OBSERVE, entity
        assert policy.mode(Flow.SPEECH, entity) is PiiMode.OBSERVE, entity
    assert policy.mode(Flow.SPEECH, "CVV") is PiiMode.REDACT
    assert policy.rule_for(Flow.SPEECH, "CVV") == "PCI-3.3.1.2"
    assert policy.rule_for(Flow.LLM, "PERSON") == "PII-DEFAULTS"
    assert policy.score_threshold == 0.5
    assert {key for key, _ in policy.evidence} == {"policy_digest", "pack.pci-dss", "pack.pii-defaults"}


def test_an_enabled_hipaa_pack_pseudonymizes_names_for_us_calls_only(tmp_path: Path) -> None:
    def enable(name: str, document: dict[str, Any]) -> None:
        if name == "hipaa-safe-harbor.yaml":
            document["enabled"] = True

    packs = load_policy_set(policy_dir(tmp_path, edit=enable))
    us = pii_policy(packs.applied(scope_of("US-NY", ())), PiiOverrides())
    assert (
        us.mode(Flow.LLM, "PERSON") is PiiMode.PSEUDONYMIZE and us.rule_for(Flow.LLM, "PERSON") == "HIPAA-SH"
    )
    assert us.mode(Flow.SPEECH, "PERSON") is PiiMode.OBSERVE  # HIPAA-SH names the llm flow only
    germany = pii_policy(packs.applied(scope_of("DE", ())), PiiOverrides())
    assert germany.mode(Flow.LLM, "PERSON") is PiiMode.OBSERVE


def test_the_operators_modes_win_either_way_and_are_marked() -> None:
    overrides = PiiOverrides(llm={"CREDIT_CARD": PiiMode.OFF}, speech={"PERSON": PiiMode.REDACT})
    policy = pii_policy(EVERYWHERE, overrides)
    assert policy.mode(Flow.LLM, "CREDIT_CARD") is PiiMode.OFF and "CREDIT_CARD" not in policy.entities(
        Flow.LLM
    )
    assert policy.mode(Flow.SPEECH, "PERSON") is PiiMode.REDACT
    assert policy.rule_for(Flow.SPEECH, "PERSON") == "PII" and ("override", "config") in policy.evidence
    assert policy.version.endswith("+config")


def test_without_any_pii_rule_for_the_call_the_embedded_defaults_apply() -> None:
    no_pii = dataclasses.replace(
        EVERYWHERE, controls={k: v for k, v in EVERYWHERE.controls.items() if k != "pii"}
    )
    policy = pii_policy(no_pii, PiiOverrides())
    assert (policy.llm, policy.speech) == (DEFAULT_POLICY.llm, DEFAULT_POLICY.speech)
    assert policy.version == "embedded-defaults"


def test_a_pack_threshold_is_the_calls_unless_the_operator_set_one(tmp_path: Path) -> None:
    def lower(name: str, document: dict[str, Any]) -> None:
        if name == "pii-defaults.yaml":
            rule(document, "PII-DEFAULTS")["parameters"]["score_threshold"] = 0.3

    packs = load_policy_set(policy_dir(tmp_path, edit=lower))
    applied = packs.applied(scope_of(None, ()))
    assert pii_policy(applied, PiiOverrides()).score_threshold == 0.3
    assert pii_policy(applied, PiiOverrides(score_threshold=0.7)).score_threshold == 0.7
