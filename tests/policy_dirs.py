"""Copies of the shipped policy packs, edited for a test (a rule's action, a text), in a temporary dir."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from voiceguard.events import PolicyDecision
from voiceguard.records import DecisionMade
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.testing import RecordingSink

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


async def start_proxy(
    make_proxy: Callable[..., Awaitable[RunningServer]],
    upstream: RunningApp,
    base: Path,
    actions: Mapping[str, str] | None = None,
) -> RunningServer:
    """voiceguard in front of the simulated OpenAI, on a copy of the shipped packs (reload off)."""
    directory = policy_dir(base, actions)
    return await make_proxy(
        {"openai": upstream.url}, policy={"dir": str(directory), "reload_interval_seconds": 0}
    )


def decisions(recording: RecordingSink, rule_id: str) -> list[PolicyDecision]:
    return [record.decision for record in recording.of(DecisionMade) if record.decision.rule_id == rule_id]
