"""The shipped packs: every one validates against the published schema and passes lint."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.policy_dirs import SHIPPED
from voiceguard.policy.lint import lint_directory
from voiceguard.policy.loader import load_policy_set, schema

PACKS = sorted(SHIPPED.glob("*.yaml"))
EXPECTED = {
    "eu-ai-act-art50",
    "bipa",
    "texas-cubi",
    "washington",
    "colorado",
    "gdpr",
    "recording-consent",
    "tcpa-ai-voice",
    "pci-dss",
    "hipaa-safe-harbor",
    "pii-defaults",
}


def test_the_published_schema_is_the_one_the_loader_enforces() -> None:
    published = json.loads((SHIPPED / "schema.json").read_text(encoding="utf-8"))
    assert published == schema()
    jsonschema.Draft202012Validator.check_schema(published)


@pytest.mark.parametrize("path", PACKS, ids=[p.stem for p in PACKS])
def test_every_shipped_pack_validates_against_the_published_schema(path: object) -> None:
    published = json.loads((SHIPPED / "schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), published)  # type: ignore[attr-defined]


def test_the_shipped_directory_lints_clean_and_holds_every_pack() -> None:
    packs, problems = lint_directory(SHIPPED)
    assert [p for p in problems if p.severity == "error"] == []
    assert {pack.name for pack in packs} == EXPECTED


def test_each_pack_is_hashed_over_its_exact_bytes() -> None:
    import hashlib

    policy = load_policy_set(SHIPPED)
    for pack in policy.packs:
        assert pack.sha256 == hashlib.sha256((SHIPPED / f"{pack.name}.yaml").read_bytes()).hexdigest()


def test_rules_voiceguard_cannot_see_on_the_wire_are_observe_only() -> None:
    policy = load_policy_set(SHIPPED)
    for rule in policy.rules():
        if rule.control in ("governance", "outbound-call"):
            assert rule.action.value == "observe", rule.id
