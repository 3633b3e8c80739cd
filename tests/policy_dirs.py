"""Copies of the shipped policy packs, edited for a test (a rule's action, a text), in a temporary dir."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

SHIPPED = Path(__file__).resolve().parents[1] / "policies"


def write_pack(directory: Path, name: str, document: Mapping[str, Any]) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(dict(document), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load_pack(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((SHIPPED / name).read_text(encoding="utf-8"))
    return loaded


def rule(document: Mapping[str, Any], rule_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(item for item in document["rules"] if item["id"] == rule_id)
    return found


def policy_dir(
    base: Path,
    actions: Mapping[str, str] | None = None,
    edit: Callable[[str, dict[str, Any]], None] | None = None,
) -> Path:
    """The shipped packs under ``base/policies``, with rule actions replaced by id and ``edit`` applied."""
    target = base / "policies"
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(SHIPPED.glob("*.yaml")):
        document = load_pack(source.name)
        for item in document["rules"]:
            if actions and item["id"] in actions:
                item["action"] = actions[item["id"]]
        if edit is not None:
            edit(source.name, document)
        write_pack(target, source.name, document)
    return target
