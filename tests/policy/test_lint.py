"""Lint catches broken packs with messages naming file, rule and fix; the CLI exits non-zero on them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.policy_dirs import load_pack, policy_dir, rule, write_pack
from voiceguard.cli import main
from voiceguard.policy.lint import lint_directory
from voiceguard.policy.loader import PolicyError, load_policy_set


def errors_in(directory: Path) -> list[str]:
    _, problems = lint_directory(directory)
    return [str(problem) for problem in problems if problem.severity == "error"]


def broken(tmp_path: Path, name: str, change: Any) -> Path:
    def edit(file: str, document: dict[str, Any]) -> None:
        if file == name:
            change(document)

    return policy_dir(tmp_path, edit=edit)


def test_an_unknown_action_is_a_schema_error_naming_the_path(tmp_path: Path) -> None:
    directory = broken(tmp_path, "bipa.yaml", lambda d: d["rules"][0].update(action="enforced"))
    (message,) = errors_in(directory)
    assert message.startswith("bipa.yaml: error: rules[0].action: 'enforced' is not one of")


def test_invalid_yaml_is_reported_with_its_file(tmp_path: Path) -> None:
    directory = policy_dir(tmp_path)
    (directory / "colorado.yaml").write_text("rules: [unclosed", encoding="utf-8")
    (message,) = errors_in(directory)
    assert message.startswith("colorado.yaml: error: not valid YAML")


def test_a_rule_id_used_twice_across_packs_is_refused(tmp_path: Path) -> None:
    directory = broken(tmp_path, "colorado.yaml", lambda d: d["rules"][0].update(id="BIPA-15b-CONSENT"))
    assert errors_in(directory) == [
        "colorado.yaml [BIPA-15b-CONSENT]: error: rule id is also used in bipa.yaml"
    ]


def test_unknown_jurisdictions_and_controls_are_refused(tmp_path: Path) -> None:
    def change(document: dict[str, Any]) -> None:
        document["rules"][0]["jurisdictions"] = ["US-ZZ"]
        document["rules"][1]["control"] = "biometric"

    messages = errors_in(broken(tmp_path, "bipa.yaml", change))
    assert any("unknown jurisdiction 'US-ZZ'" in m for m in messages)
    assert any("unknown control 'biometric'; known:" in m for m in messages)


def test_an_action_a_control_cannot_take_is_refused(tmp_path: Path) -> None:
    directory = broken(tmp_path, "tcpa-ai-voice.yaml", lambda d: d["rules"][0].update(action="block"))
    (message,) = errors_in(directory)
    assert "action 'block' is not possible for control 'outbound-call'; allowed: observe" in message


def test_a_disclosure_text_its_own_phrases_would_not_recognise_is_refused(tmp_path: Path) -> None:
    def change(document: dict[str, Any]) -> None:
        rule(document, "EUAI-50.1-DISCLOSE")["parameters"]["disclosures"]["en"]["text"] = "Hello there!"

    (message,) = errors_in(broken(tmp_path, "eu-ai-act-art50.yaml", change))
    assert (
        "[EUAI-50.1-DISCLOSE]" in message
        and "'en' disclosure text does not match accepted_phrases" in message
    )


def test_a_language_listened_for_without_a_text_to_inject_is_refused(tmp_path: Path) -> None:
    def change(document: dict[str, Any]) -> None:
        del rule(document, "EUAI-50.1-ASKED")["parameters"]["admissions"]["fr"]

    (message,) = errors_in(broken(tmp_path, "eu-ai-act-art50.yaml", change))
    assert "question_patterns has locale 'fr' but admissions has no text for it" in message


def test_a_regular_expression_that_does_not_compile_is_refused(tmp_path: Path) -> None:
    def change(document: dict[str, Any]) -> None:
        rule(document, "EUAI-50.1-DISCLOSE")["parameters"]["accepted_phrases"]["en"].append("(unclosed")

    messages = errors_in(broken(tmp_path, "eu-ai-act-art50.yaml", change))
    assert any("[EUAI-50.1-DISCLOSE]" in m and "bad regular expression '(unclosed'" in m for m in messages)


def test_loading_a_broken_directory_raises_with_every_error(tmp_path: Path) -> None:
    directory = broken(tmp_path, "bipa.yaml", lambda d: d.update(version="one"))
    with pytest.raises(PolicyError) as caught:
        load_policy_set(directory)
    assert "bipa.yaml: error: version: 'one' does not match" in str(caught.value)


def test_an_entity_the_pii_guard_does_not_detect_is_a_warning(tmp_path: Path) -> None:
    def change(document: dict[str, Any]) -> None:
        document["rules"][0]["parameters"]["entities"]["FAX_NUMBER"] = {"llm": "redact"}

    _, problems = lint_directory(broken(tmp_path, "pii-defaults.yaml", change))
    (warning,) = [p for p in problems if "FAX_NUMBER" in p.message]
    assert warning.severity == "warning" and warning.rule_id == "PII-DEFAULTS"


def test_a_duplicate_pack_name_is_refused(tmp_path: Path) -> None:
    directory = policy_dir(tmp_path)
    write_pack(directory, "bipa-copy.yaml", load_pack("bipa.yaml"))
    messages = errors_in(directory)
    assert any("pack name 'bipa' is also used by bipa-copy.yaml" in m for m in messages)


def test_lint_command_reports_ok_and_exits_zero(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = policy_dir(tmp_path)
    assert main(["policy", "lint", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "11 packs, 39 rules: 0 error(s), 1 warning(s)" in out
    assert main(["policy", "lint", "--strict", str(directory)]) == 1


def test_lint_command_exits_one_on_a_broken_pack_and_two_without_a_directory(tmp_path: Path) -> None:
    directory = broken(tmp_path, "bipa.yaml", lambda d: d["rules"][0].update(action="enforced"))
    result = subprocess.run(
        [sys.executable, "-m", "voiceguard", "policy", "lint", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "bipa.yaml: error: rules[0].action" in result.stdout
    assert main(["policy", "lint", str(tmp_path / "missing")]) == 2


def test_show_merges_what_applies_to_a_jurisdiction(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "show", "--jurisdiction", "US-IL", "--json"]) == 0
    import json

    shown = json.loads(capsys.readouterr().out)
    assert shown["scope"] == ["US-IL", "US", "*"]
    assert shown["controls"]["biometric-consent"]["rules"][:2] == ["BIPA-15a-POLICY", "BIPA-15b-CONSENT"]
    assert shown["controls"]["pii"]["parameters"]["entities"]["CVV"] == {
        "llm": "pseudonymize",
        "speech": "redact",
    }
    assert main(["policy", "show", "--caller", "+4930901820"]) == 0
    assert "jurisdiction DE (from --caller); scope: DE > EU > *" in capsys.readouterr().out
    assert main(["policy", "show", "--jurisdiction", "XX-YY"]) == 2
