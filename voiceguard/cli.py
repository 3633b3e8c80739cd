"""The ``voiceguard`` command: serve, and the tools around the proxy."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voiceguard import __version__
from voiceguard.audit.cli import add_audit_commands
from voiceguard.config import ConfigError, Settings, load_settings


def _add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="YAML config file on top of the embedded defaults"
    )


def _serve_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    listen: dict[str, Any] = {}
    if args.host is not None:
        listen["host"] = args.host
    if args.port is not None:
        listen["port"] = args.port
    if listen:
        overrides["listen"] = listen
    if args.tls_cert is not None or args.tls_key is not None:
        overrides["tls"] = {"cert": args.tls_cert, "key": args.tls_key}
    return overrides


def load(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> Settings:
    """Settings for a command, or exit 2 with the configuration error printed."""
    try:
        return load_settings(args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"voiceguard: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _cmd_serve(args: argparse.Namespace) -> int:
    from voiceguard import eventloop, server
    from voiceguard.keys import KeyError_
    from voiceguard.policy.loader import PolicyError
    from voiceguard.telemetry.logging import configure_logging

    settings = load(args, _serve_overrides(args))
    configure_logging(settings.logging.level, settings.logging.format)
    try:
        eventloop.run(server.serve_forever(settings), settings.server.event_loop)
    except ConfigError as exc:
        print(f"voiceguard: {exc}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        print(
            f"voiceguard: the policy packs are not usable (see voiceguard policy lint):\n{exc}",
            file=sys.stderr,
        )
        return 2
    except KeyError_ as exc:
        print(f"voiceguard: key material refused: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"voiceguard: cannot listen on {settings.listen.host}:{settings.listen.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from voiceguard import server
    from voiceguard.demo.command import run

    return run(args, server.start)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voiceguard", description=__doc__)
    parser.add_argument("--version", action="version", version=f"voiceguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the proxy")
    _add_config_argument(serve)
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")
    serve.add_argument(
        "--tls-cert", type=Path, metavar="FILE", help="certificate chain (PEM) to serve HTTPS/WSS"
    )
    serve.add_argument("--tls-key", type=Path, metavar="FILE", help="private key (PEM) for --tls-cert")
    serve.set_defaults(handler=_cmd_serve)

    from voiceguard.consent.cli import add_consent_commands

    add_consent_commands(commands, _add_config_argument, load)

    from voiceguard.biometrics.cli import add_publish_command
    from voiceguard.policy.commands import add_parser as add_policy_parser

    policy_commands = add_policy_parser(commands)
    add_publish_command(policy_commands, _add_config_argument, load)
    add_audit_commands(commands, _add_config_argument)
    from voiceguard.demo.command import add_demo_command

    add_demo_command(commands, _cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result
