"""Reading a directory of policy packs: YAML in, schema-checked, linted, a frozen ``PolicySet`` out.

Loading is all or nothing: one broken pack and the whole directory is refused with every problem listed,
because a proxy that silently dropped a pack would run with less policy than the operator wrote. The
sha256 of each file's exact bytes is kept, so an audit record can name precisely which text was in force.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from jsonschema import Draft202012Validator

from voiceguard.policy.model import Action, Pack, PolicySet, Rule, freeze

PACK_SUFFIXES: Final = (".yaml", ".yml")
MAX_PACK_BYTES: Final = 512 * 1024
MAX_PACKS: Final = 200
MAX_NODES: Final = 50_000
"""Values in one pack after YAML aliases are expanded (stops an alias bomb from eating the process)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a pack; errors refuse the directory, warnings are shown by lint only."""

    severity: Literal["error", "warning"]
    file: str
    message: str
    rule_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}" + (f" [{self.rule_id}]" if self.rule_id else "")
        return f"{where}: {self.severity}: {self.message}"


class PolicyError(Exception):
    """The packs cannot be used; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@cache
def schema() -> dict[str, Any]:
    """The published JSON Schema every pack is validated against (``policies/schema.json``)."""
    text = resources.files("voiceguard.policy").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


def pack_files(directory: Path) -> list[Path]:
    """The pack files of a directory, in name order (which is also the merge order for ties)."""
    return sorted(p for p in directory.iterdir() if p.suffix in PACK_SUFFIXES and p.is_file())


def _count_nodes(value: object, budget: int) -> int:
    """Remaining budget after walking ``value``; negative once it is exceeded."""
    budget -= 1
    if budget < 0:
        return budget
    if isinstance(value, Mapping):
        for item in value.values():
            budget = _count_nodes(item, budget)
            if budget < 0:
                break
    elif isinstance(value, list):
        for item in value:
            budget = _count_nodes(item, budget)
            if budget < 0:
                break
    return budget


def _path(error_path: Any) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in error_path]
    return "".join(parts).lstrip(".") or "(top level)"


def parse_pack(path: Path, raw: bytes) -> tuple[Pack | None, list[Problem]]:
    """One pack from its bytes: YAML, then the schema; ``None`` with the problems when it is unusable."""
    name = path.name
    if len(raw) > MAX_PACK_BYTES:
        return None, [Problem("error", name, f"larger than {MAX_PACK_BYTES} bytes")]
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        return None, [Problem("error", name, f"not valid YAML: {exc}")]
    if _count_nodes(document, MAX_NODES) < 0:
        return None, [Problem("error", name, f"more than {MAX_NODES} values once YAML aliases are expanded")]
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        problems = [Problem("error", name, f"{_path(e.absolute_path)}: {e.message}") for e in errors]
        return None, problems
    pack_jurisdictions = tuple(document["jurisdictions"])
    rules = tuple(
        Rule(
            id=item["id"],
            title=item["title"],
            control=item["control"],
            action=Action(item["action"]),
            jurisdictions=tuple(item.get("jurisdictions", pack_jurisdictions)),
            evidence=tuple(item["evidence"]),
            source=item["source"],
            pack=document["pack"],
            parameters=freeze(item.get("parameters", {})),  # type: ignore[arg-type]
            note=item.get("note"),
        )
        for item in document["rules"]
    )
    pack = Pack(
        name=document["pack"],
        version=document["version"],
        title=document["title"],
        path=str(path),
        sha256=hashlib.sha256(raw).hexdigest(),
        jurisdictions=pack_jurisdictions,
        rules=rules,
        enabled=document.get("enabled", True),
        description=document.get("description", ""),
    )
    return pack, []


def read_directory(directory: Path) -> tuple[list[Pack], list[Problem]]:
    """Every pack of ``directory`` that parses, and every problem met on the way (schema level only)."""
    if not directory.is_dir():
        return [], [Problem("error", str(directory), "not a directory")]
    files = pack_files(directory)
    if not files:
        return [], [Problem("error", str(directory), "holds no policy packs (*.yaml)")]
    if len(files) > MAX_PACKS:
        return [], [Problem("error", str(directory), f"holds more than {MAX_PACKS} packs")]
    packs: list[Pack] = []
    problems: list[Problem] = []
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            problems.append(Problem("error", path.name, f"cannot be read: {exc.strerror}"))
            continue
        pack, found = parse_pack(path, raw)
        problems.extend(found)
        if pack is not None:
            packs.append(pack)
    return packs, problems


def load_policy_set(directory: Path) -> PolicySet:
    """The packs of ``directory`` as a ``PolicySet``; raises ``PolicyError`` listing every error."""
    from voiceguard.policy.lint import check_packs

    packs, problems = read_directory(directory)
    problems.extend(check_packs(packs))
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors:
        raise PolicyError(errors)
    return PolicySet(tuple(packs), str(directory))


def default_directory() -> Path:
    """``./policies`` when it exists, else the packs shipped inside the package.

    ``voiceguard/policy/packs`` is a link to the checkout's ``policies/`` and a real directory in a built
    wheel, so an installed voiceguard runs on the same packs from any working directory.
    """
    local = Path("policies")
    if local.is_dir():
        return local
    return Path(__file__).resolve().parent / "packs"


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of every pack file: what the reload watcher compares between polls."""
    try:
        files = pack_files(directory)
    except OSError:
        return ()
    out = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(out)
