"""``voiceguard policy lint`` and ``voiceguard policy show``: what the packs say, checked and merged.

Exit codes: 0 when the packs are usable (warnings allowed unless ``--strict``), 1 when a pack has errors,
2 when the command itself was used wrongly (no such directory, unknown jurisdiction).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from voiceguard.policy import jurisdiction
from voiceguard.policy.context import scope_of
from voiceguard.policy.controls import CONTROLS
from voiceguard.policy.lint import lint_directory
from voiceguard.policy.loader import PolicyError, default_directory, load_policy_set
from voiceguard.policy.model import AppliedPolicy, Param


def _directory(value: Path | None, err: TextIO) -> Path | None:
    directory = value or default_directory()
    if not directory.is_dir():
        print(f"voiceguard: policy directory {directory} does not exist", file=err)
        return None
    return directory


def lint(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    directory = _directory(args.dir, err)
    if directory is None:
        return 2
    packs, problems = lint_directory(directory)
    for problem in problems:
        print(f"{directory}/{problem}", file=out)
    errors = sum(problem.severity == "error" for problem in problems)
    warnings = len(problems) - errors
    for pack in packs:
        state = "" if pack.enabled else "  (disabled)"
        print(
            f"  {pack.name} {pack.version}  sha256:{pack.sha256[:16]}  {len(pack.rules)} rules{state}",
            file=out,
        )
    rules = sum(len(pack.rules) for pack in packs)
    print(f"{len(packs)} packs, {rules} rules: {errors} error(s), {warnings} warning(s)", file=out)
    if errors or (args.strict and warnings):
        return 1
    return 0


def _plain(value: Param) -> object:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _as_json(applied: AppliedPolicy, code: str | None, source: str) -> dict[str, object]:
    return {
        "jurisdiction": code,
        "source": source,
        "scope": list(applied.scope),
        "policy_digest": applied.digest,
        "packs": [{"name": r.name, "version": r.version, "sha256": r.sha256} for r in applied.packs],
        "matching_packs": list(applied.matching),
        "controls": {
            name: {
                "action": control.action.value,
                "rules": list(control.rules),
                "evidence": list(control.evidence),
                "parameters": _plain(control.parameters),
            }
            for name, control in applied.controls.items()
        },
    }


def _print_table(applied: AppliedPolicy, code: str | None, source: str, out: TextIO) -> None:
    print(f"jurisdiction {code or '(none)'} (from {source}); scope: {' > '.join(applied.scope)}", file=out)
    print(f"policy digest {applied.digest}", file=out)
    print(f"packs with rules here: {', '.join(applied.matching) or '(none)'}", file=out)
    print(file=out)
    print(f"{'control':<20} {'action':<8} {'enforced by':<32} rules (strictest wins)", file=out)
    for name, control in sorted(applied.controls.items()):
        spec = CONTROLS.get(name)
        enforced_by = spec.enforced_by if spec is not None else "?"
        print(f"{name:<20} {control.action.value:<8} {enforced_by:<32} {', '.join(control.rules)}", file=out)


def show(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    directory = _directory(args.dir, err)
    if directory is None:
        return 2
    source = "--jurisdiction"
    code: str | None = None
    if args.caller:
        code, source = jurisdiction.from_e164(args.caller), "--caller"
        if code is None:
            print(f"voiceguard: {args.caller!r} is not an E.164 number voiceguard can place", file=err)
            return 2
    elif args.jurisdiction:
        code = jurisdiction.normalise(args.jurisdiction)
        if not jurisdiction.is_known(code):
            print(f"voiceguard: unknown jurisdiction {args.jurisdiction!r} (e.g. EU, DE, US-IL)", file=err)
            return 2
    try:
        policy = load_policy_set(directory)
    except PolicyError as exc:
        print(f"voiceguard: the packs in {directory} are not usable (run voiceguard policy lint):", file=err)
        print(str(exc), file=err)
        return 1
    applied = policy.applied(scope_of(code, tuple(args.operator or ())))
    if args.json:
        json.dump(_as_json(applied, code, source), out, indent=2, ensure_ascii=False)
        print(file=out)
    else:
        _print_table(applied, code, source, out)
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> Any:
    policy = commands.add_parser("policy", help="check the policy packs and show what applies where")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")

    lint_parser = actions.add_parser("lint", help="validate packs against the schema and each other")
    lint_parser.add_argument("dir", nargs="?", type=Path, help="pack directory (default: ./policies)")
    lint_parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    lint_parser.set_defaults(handler=lint)

    show_parser = actions.add_parser("show", help="the merged policy for a jurisdiction (strictest wins)")
    where = show_parser.add_mutually_exclusive_group()
    where.add_argument("--jurisdiction", "-j", help="e.g. EU, DE, US-IL (default: global rules only)")
    where.add_argument("--caller", help="a caller's E.164 number, resolved as a call would be")
    show_parser.add_argument("--operator", action="append", help="an operator jurisdiction (repeatable)")
    show_parser.add_argument("--dir", type=Path, help="pack directory (default: ./policies)")
    show_parser.add_argument("--json", action="store_true", help="machine-readable, with parameters")
    show_parser.set_defaults(handler=show)
    return actions
