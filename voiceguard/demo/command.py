"""``voiceguard demo [--output DIR]``: exit 0 when every claim the demo makes held, else 1 (2: misuse)."""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TextIO, cast

from rich.console import Console

from voiceguard.config import ConfigError
from voiceguard.demo.agent import AgentError
from voiceguard.demo.outcome import checks
from voiceguard.demo.render import ProgressView, header, report
from voiceguard.demo.runner import DemoError, StartProxy, prepare_output, run_bounded
from voiceguard.telemetry.logging import configure_logging

DEFAULT_OUTPUT: Final = Path("voiceguard-demo")
TIMEOUT_S: Final = 120.0


class ProxyLog(io.TextIOBase):
    """The proxy's request log for one run, in a file; once closed, lines are dropped.

    structlog keeps the loggers it handed out bound to the stream configured when they were first used,
    so a plain file closed at the end of the run would make any later log line fail.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file: TextIO | None = path.open("w", encoding="utf-8")

    def write(self, text: str) -> int:
        return self._file.write(text) if self._file is not None else len(text)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


def add_demo_command(commands: Any, handler: Callable[[argparse.Namespace], int]) -> None:
    demo = commands.add_parser(
        "demo",
        help="run a scripted phone call through voiceguard against a local simulator (no keys, no network)",
    )
    demo.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="DIR",
        help=f"where the demo's audit log, trace file and proxy log go (default ./{DEFAULT_OUTPUT})",
    )
    demo.set_defaults(handler=handler)


def run(args: argparse.Namespace, start_proxy: StartProxy) -> int:
    console = Console(highlight=False)
    try:
        output = prepare_output(args.output)
    except (DemoError, OSError) as exc:
        print(f"voiceguard demo: {exc}", file=sys.stderr)
        return 2
    header(console)
    log = ProxyLog(output / "voiceguard.log")
    configure_logging("info", "json", stream=cast(TextIO, log))  # the request log, beside the audit log
    try:
        with ProgressView(console) as steps:
            result = asyncio.run(run_bounded(output, start_proxy, steps, TIMEOUT_S))
    except (DemoError, AgentError, ConfigError, OSError) as exc:
        console.print(f"[red]✗ the demo failed:[/] {exc}")
        console.print(f"  the proxy's log is in {output / 'voiceguard.log'}")
        return 1
    except Exception as exc:  # an SDK error from a vendor or the proxy: say which, not a traceback
        console.print(f"[red]✗ the demo failed:[/] {type(exc).__name__}: {exc}")
        console.print(f"  the proxy's log is in {output / 'voiceguard.log'}")
        return 1
    finally:
        log.close()
    claims = checks(result)
    report(console, result, claims)
    return 0 if all(claim.ok for claim in claims) else 1
