"""``voiceguard policy publish``: print the public retention schedule from the rules in force."""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voiceguard.biometrics.publish import render_schedule
from voiceguard.config import Settings


def add_publish_command(
    policy_commands: Any,
    add_config: Callable[[argparse.ArgumentParser], None],
    load: Callable[[argparse.Namespace], Settings],
) -> None:
    publish = policy_commands.add_parser(
        "publish", help="print the public biometric retention schedule (BIPA 15(a)) as Markdown"
    )
    add_config(publish)
    publish.add_argument("--output", type=Path, metavar="FILE", help="write it to FILE instead of stdout")

    def command(args: argparse.Namespace) -> int:
        from voiceguard.biometrics.retention import retention_schedule
        from voiceguard.policy.biometric import consent_requirements
        from voiceguard.policy.loader import PolicyError
        from voiceguard.policy.setup import policy_store

        settings = load(args)
        try:
            policies = policy_store(settings)
        except PolicyError as exc:
            problem = "the policy packs are not usable (see voiceguard policy lint)"
            print(f"voiceguard: {problem}:\n{exc}", file=sys.stderr)
            return 2
        text = render_schedule(
            consent_requirements(policies.current),
            retention_schedule(settings, policies),
            controller=settings.biometrics.controller,
            contact=settings.biometrics.contact,
            sweep_seconds=settings.biometrics.retention_sweep_seconds,
        )
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text, encoding="utf-8")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        print(f"sha256 {digest}", file=sys.stderr)
        return 0

    publish.set_defaults(handler=command)
