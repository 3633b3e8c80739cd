"""The demo in the terminal: progress while it runs, then what happened, in the order a newcomer asks.

Everything shown comes from a ``DemoRun``: the call as the agent's code saw it, what the vendors received,
the decisions the proxy reported to its sinks, the audit log and the trace file. Personal data shown is
the demo's own script (a test card number); the records themselves hold none.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.panel import Panel
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from voiceguard.demo import script
from voiceguard.demo.evidence import Decision
from voiceguard.demo.outcome import STRIPPED_HEADER, Check, DemoRun, injected_prefix
from voiceguard.demo.waterfall import waterfall

INJECTED_STYLE: Final = "bold green"
SOURCES: Final = {"header": "X-VoiceGuard-Jurisdiction", "subject": "the caller's number"}
LONG_HEX: Final = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{20,}\b")


def shown_path(path: Path) -> str:
    """A path relative to the working directory when it is inside it (shorter commands to copy)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class ProgressView:
    """The runner's ``Steps`` on a terminal: a spinner for the running step, a tick for each one done."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("[dim]{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task: TaskID | None = None
        self._started = time.monotonic()

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def begin(self, text: str) -> None:
        if self._task is not None:
            self.progress.remove_task(self._task)
        self._task = self.progress.add_task(text, detail="")

    def detail(self, text: str) -> None:
        if self._task is not None:
            self.progress.update(self._task, detail=text)

    def done(self, text: str) -> None:
        if self._task is not None:
            self.progress.remove_task(self._task)
            self._task = None
        elapsed = time.monotonic() - self._started
        self.console.print(f"[green]✓[/] {text} [dim]({elapsed:.1f} s)[/]")


def header(console: Console) -> None:
    console.print(
        Panel(
            f"One phone call through voiceguard, start to finish. The caller ({script.CALLER}) is in "
            f"Illinois ({script.JURISDICTION}); the agent is plain SDK code: Deepgram live STT → OpenAI "
            "chat → OpenAI speech, with its base URLs pointed at voiceguard.\n"
            "[bold yellow]The vendors are a local SIMULATOR[/] speaking the real OpenAI and Deepgram "
            "protocols: no API keys, no internet; answers and delays are scripted.",
            title="[bold]voiceguard demo[/]",
            border_style="blue",
        )
    )


# --- the call ---------------------------------------------------------------------------------------------


def _reply_text(reply: str, injected: str) -> Text:
    text = Text()
    if injected:
        text.append(injected, style=INJECTED_STYLE)
        text.append(" ")
        text.append(reply[len(injected) :].lstrip())
        text.append("  ← injected by voiceguard", style="green")
    else:
        text.append(reply)
    return text


def _call_table(run: DemoRun) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("turn", justify="right", style="bold")
    table.add_column("who", no_wrap=True)
    table.add_column("what was said (as the agent's code got it)")
    prompts = run.vendors.prompts()
    for index, (turn, scripted) in enumerate(zip(run.agent.turns, script.TURNS, strict=False)):
        number = str(index + 1)
        table.add_row(number, "caller", turn.heard)
        seen = prompts[index] if index < len(prompts) else ""
        if seen and seen != turn.heard:
            table.add_row("", Text("LLM vendor got", style="dim"), Text(seen, style="dim"))
        table.add_row("", "agent", _reply_text(turn.reply, injected_prefix(turn, scripted)))
        for name, arguments in turn.tool_calls:
            call = Text(f"{name}({arguments})")
            call.append("  ← card restored by voiceguard", style="green")
            table.add_row("", "agent's tool", call)
    return table


# --- what voiceguard enforced -----------------------------------------------------------------------------


def _counts(decision: Decision) -> str:
    return ", ".join(f"{count} {name}" for name, count in decision.counts)


def describe(decision: Decision) -> str:
    """One line a newcomer understands, from the decision's rule, action, counts and evidence ids."""
    evidence = dict(decision.evidence)
    if decision.rule == "VG-POLICY-APPLIED":
        packs = sum(1 for key in evidence if key.startswith("pack."))
        source = SOURCES.get(evidence.get("source", ""), evidence.get("source"))
        return f"{packs} policy packs apply in {evidence.get('jurisdiction')} (from {source})"
    if decision.action == "strip":
        return f"{evidence.get('feature')} stripped: no {evidence.get('purpose')} consent on record"
    if "flow" in evidence:
        return {
            "observe": f"{_counts(decision)} found in the transcript (observed: the agent needs it)",
            "pseudonymize": f"{_counts(decision)} replaced by a placeholder before the LLM vendor",
            "restore": f"{_counts(decision)} put back in the reply's tool call",
            "redact": f"{_counts(decision)} redacted",
        }.get(decision.action, f"{_counts(decision)}: {decision.action} → {decision.outcome}")
    what = "admission" if "admission_id" in evidence else "AI disclosure"
    if evidence.get("delivery") == "injected":
        return f"{what} injected: the agent left it out"
    if evidence.get("delivery") == "verified":
        return f"{what} verified in the text sent to speech"
    if decision.outcome == "timed":
        offset = float(evidence.get("delivered_offset_ms", "0"))
        when = "before" if offset <= 0 else "after"
        return f"disclosure went out {abs(offset):.0f} ms {when} the first agent audio"
    if decision.outcome == "marked":
        return "synthetic speech marked AI-generated (headers)"
    return f"{decision.action} → {decision.outcome} {_counts(decision)}".strip()


def _decision_rows(run: DemoRun) -> Iterator[tuple[str, str, str]]:
    """Identical decisions of several turns on one row, in the order they were first made."""
    grouped: dict[tuple[str, str, str], list[int]] = {}
    for decision in run.recorder.decisions:
        turns = grouped.setdefault((decision.rule, describe(decision), decision.stage), [])
        if decision.turn not in turns:
            turns.append(decision.turn)
    for (rule, text, stage), turns in grouped.items():
        if turns == [0]:
            yield rule, text, f"{stage.upper()}, call start"
        else:
            numbers = ", ".join(str(turn) for turn in turns if turn)
            yield rule, text, f"{stage.upper()}, turn{'s' if len(turns) > 1 else ''} {numbers}"


def _say(console: Console, markup: str) -> None:
    """An indented paragraph: wrapped lines stay indented."""
    console.print(Padding(Text.from_markup(markup), (0, 0, 0, 2)))


def _command(console: Console, command: str) -> None:
    """A command to copy: on its own line and never wrapped by us (the terminal may fold it)."""
    console.print(Text("  $ " + command, style="bold"), soft_wrap=True)


def _enforcement(console: Console, run: DemoRun) -> None:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("rule", style="bold", no_wrap=True)
    table.add_column("what voiceguard did")
    table.add_column("where", no_wrap=True)
    for row in _decision_rows(run):
        table.add_row(*row)
    console.print(table)
    header = run.agent.listen_headers.get(STRIPPED_HEADER)
    options = "&".join(f"{k}={v}" for query in run.vendors.listen_options() for k, v in query)
    _say(
        console,
        f"The agent's live-listen socket was told [bold]X-VoiceGuard-Stripped: {header}[/]; "
        f"the (simulated) Deepgram received [bold]/v1/listen?{options}[/]: no diarize.",
    )


# --- audit log and trace ----------------------------------------------------------------------------------


def _abridged(record: dict[str, Any]) -> str:
    data = dict(record["data"])
    if isinstance(data.get("policy"), dict):
        data["policy"] = f"… {len(data['policy']) - 1} packs and their digest …"
    text = json.dumps({**record, "data": data}, ensure_ascii=False, sort_keys=True)
    return LONG_HEX.sub(r"\1…", text)


def _audit(console: Console, run: DemoRun) -> None:
    audit = run.audit
    report = audit.report
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(audit.kinds().items()))
    if report.ok:
        console.print(
            f"[green]✓ verified[/]: {report.records} records, every hash and link intact, signed through "
            f"#{report.signed_through} by {report.checkpoints} checkpoint(s)"
        )
    else:
        failure = report.failure
        console.print(f"[red]✗ does not verify[/]: {failure.message if failure else ''}")
    _say(console, f"{kinds}. Store {audit.where}, signing key fingerprint {audit.key_fingerprint}.")
    stripped = next(
        (r for r in audit.records if r["kind"] == "decision" and r["data"].get("action") == "strip"), None
    )
    if stripped is not None:
        _say(
            console, "The diarization decision as an auditor reads it (abridged; the caller is a keyed hash):"
        )
        console.print(Padding(Text(_abridged(stripped), style="dim"), (0, 0, 0, 2)))
    config = shown_path(run.config_path)
    _say(console, "Verify it yourself, and make the evidence report an auditor gets:")
    _command(console, f"voiceguard audit verify --config {config}")
    _command(
        console,
        f"voiceguard audit export --config {config} --format html --call {run.call_id} --output call.html",
    )


def _trace(console: Console, run: DemoRun) -> None:
    trace_ids = sorted(run.trace.trace_ids(run.call_id))
    names = run.trace.span_names(run.call_id)
    spans = ", ".join(f"{count} {name}" for name, count in sorted(names.items()))
    path = shown_path(run.trace.path)
    console.print(f"One trace for the call, id [bold]{', '.join(trace_ids)}[/]: {spans} spans.")
    if run.otlp_endpoint:
        _say(console, f"Sent to the OTLP endpoint [bold]{run.otlp_endpoint}[/], and written to {path}.")
    else:
        _say(console, f"OTEL_EXPORTER_OTLP_ENDPOINT is not set, so the spans were written to [bold]{path}[/] "
                      "(one JSON span per line). A turn's numbers:")  # fmt: skip
    _command(console, f"jq 'select(.name==\"voice.turn\") | .attributes' {path}")
    _say(
        console,
        "To see the trace in Jaeger and the dashboards in Grafana, start the stack and run the demo into it:",
    )
    _command(console, "docker compose -f examples/observability/docker-compose.yaml up -d")
    _command(
        console,
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 voiceguard demo   # then http://localhost:16686",
    )


def _checks(console: Console, checks: list[Check]) -> None:
    for check in checks:
        mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
        detail = f" [dim]({check.detail})[/]" if check.detail and not check.ok else ""
        console.print(f"{mark} {check.claim}{detail}")


def report(console: Console, run: DemoRun, checks: list[Check]) -> None:
    console.rule("[bold]The call")
    console.print(_call_table(run))
    console.rule("[bold]Latency per turn")
    console.print(
        waterfall(
            run.recorder.turns,
            notes=(
                "From the caller's last audio frame reaching voiceguard. Deepgram marks the end of speech on "
                "the final result itself, so STT finalization is 0 and its wait is end-of-speech detection.",
            ),
        )
    )
    console.rule("[bold]What voiceguard enforced")
    _enforcement(console, run)
    console.rule("[bold]Audit log")
    _audit(console, run)
    console.rule("[bold]Trace")
    _trace(console, run)
    console.rule("[bold]Checked")
    _checks(console, checks)
    failed = sum(not check.ok for check in checks)
    verdict = "[green]all claims hold[/]" if not failed else f"[red]{failed} claim(s) failed[/]"
    console.print(
        f"\nCall {run.call_id}: {len(run.recorder.turns)} turns in {run.seconds:.1f} s, {verdict}. "
        f"Everything it wrote is in {shown_path(run.output)}{os.sep}"
    )
