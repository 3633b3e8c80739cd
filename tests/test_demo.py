"""``voiceguard demo`` end to end: what it prints is what the audit log and the trace file hold.

The demo runs as a user runs it (``python -m voiceguard demo``, a subprocess with no terminal); its output
is then read back and compared with records it did not render: the audit log (verified here with the
real ``voiceguard audit verify`` and read from its store) and the spans in the trace file.
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from voiceguard import server
from voiceguard.audit.factory import open_store
from voiceguard.audit.store import PAGE_SIZE
from voiceguard.config import load_settings
from voiceguard.demo import script
from voiceguard.demo.outcome import checks
from voiceguard.demo.render import ProgressView, report
from voiceguard.demo.runner import DemoError, prepare_output, run_bounded
from voiceguard.demo.waterfall import CHAIN
from voiceguard.telemetry import names

pytestmark = pytest.mark.slow

LABELS = {label: key for key, label, _ in CHAIN} | {"voice-to-voice": "voice_to_voice"}
ROW = re.compile(r"^(?P<label>\S.*?)\s+(?P<ms>\d+\.\d) ms\b")
TURN = re.compile(r"^Turn (?P<n>\d+) · voice-to-voice (?P<ms>\d+\.\d) ms")


def printed_waterfall(out: str) -> dict[int, dict[str, float]]:
    section = out.split("Latency per turn", 1)[1].split("What voiceguard enforced", 1)[0]
    turns: dict[int, dict[str, float]] = {}
    current: dict[str, float] | None = None
    for line in section.splitlines():
        if match := TURN.match(line):
            current = turns.setdefault(int(match["n"]), {})
        elif (match := ROW.match(line)) and current is not None and match["label"] in LABELS:
            current[LABELS[match["label"]]] = float(match["ms"])
    return turns


def trace_breakdowns(trace_file: Path) -> dict[int, dict[str, float]]:
    import json

    by_attribute = {attribute: key for key, attribute in names.BREAKDOWN_ATTRIBUTES.items()}
    turns: dict[int, dict[str, float]] = {}
    for line in trace_file.read_text(encoding="utf-8").splitlines():
        span = json.loads(line)
        if span["name"] == names.SPAN_TURN:
            attributes = span["attributes"]
            turns[attributes[names.TURN_NUMBER]] = {
                by_attribute[k]: v * 1000 for k, v in attributes.items() if k in by_attribute
            }
    return turns


async def audit_records(config: Path) -> list[dict[str, Any]]:
    store = open_store(load_settings(config, env={}))
    await store.attach()
    try:
        rows = await store.records(0, PAGE_SIZE)
    finally:
        await store.close()
    return [row.content() for row in rows]


def test_demo_prints_what_the_audit_log_and_the_trace_file_hold(tmp_path: Path) -> None:
    output = tmp_path / "demo"
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    done = subprocess.run(
        [sys.executable, "-m", "voiceguard", "demo", "--output", str(output)],
        capture_output=True, text=True, timeout=110, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "all claims hold" in out and "✗" not in out

    # the latency waterfall is the trace's: every printed number is its voice.turn span's, rounded
    printed = printed_waterfall(out)
    traced = trace_breakdowns(output / "trace.jsonl")
    assert sorted(printed) == sorted(traced) == list(range(1, len(script.TURNS) + 1))
    for number, rows in printed.items():
        assert {"voice_to_voice", "llm_time_to_first_token", "tts_time_to_first_byte"} <= rows.keys()
        for key, value in rows.items():
            assert abs(value - traced[number][key]) <= 0.05 + 1e-6, (number, key)

    # the trace id printed is the one trace the file holds for the call
    call_id = re.search(r"Call (demo-[\w-]+):", out)
    assert call_id is not None
    trace_ids = set(re.findall(r'"trace_id": "0x([0-9a-f]{32})"', (output / "trace.jsonl").read_text()))
    assert trace_ids == set(re.findall(r"One trace for the call, id ([0-9a-f]{32})", out))

    # the audit log verifies with the real command, and holds what was printed
    verify = subprocess.run(
        [sys.executable, "-m", "voiceguard", "audit", "verify", "--config", str(output / "voiceguard.yaml")],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert verify.returncode == 0 and "voiceguard audit verify: OK" in verify.stdout, verify.stderr
    records = asyncio.run(audit_records(output / "voiceguard.yaml"))
    assert f"✓ verified: {len(records)} records" in out
    decisions = [r["data"] for r in records if r["kind"] == "decision" and r["call"] == call_id[1]]
    enforced = out.split("What voiceguard enforced", 1)[1].split("Audit log", 1)[0]
    printed_rules = set(re.findall(r"^([A-Z][A-Za-z0-9.-]+[A-Za-z0-9])\s{2,}", enforced, re.MULTILINE))
    assert printed_rules == {d["rule"] for d in decisions}
    assert {"BIPA-15b-CONSENT", "EUAI-50.1-DISCLOSE", "EUAI-50.1-ASKED", "PCI-3.4.1"} <= printed_rules
    # PII decisions are filed under the pack rule that set the mode; the control names them as PII
    pii = {(d["action"], tuple(d["counts"])) for d in decisions if d["evidence"].get("control") == "pii"}
    assert pii == {
        ("observe", ("CREDIT_CARD",)),
        ("pseudonymize", ("CREDIT_CARD",)),
        ("restore", ("CREDIT_CARD",)),
    }
    assert "1 CREDIT_CARD replaced by a placeholder before the LLM vendor" in enforced
    strip = [d for d in decisions if d["action"] == "strip"]
    assert [d["evidence"]["feature"] for d in strip] == ["diarization"]
    assert "diarization stripped: no voiceprint consent on record" in enforced
    injected = {(d["rule"], d["stage"]) for d in decisions if d["evidence"].get("delivery") == "injected"}
    assert injected == {("EUAI-50.1-DISCLOSE", "llm"), ("EUAI-50.1-ASKED", "llm")}

    # nothing the demo recorded holds the card number the caller spoke
    said = script.card_said().encode()
    for recorded in (output / "data" / "audit.sqlite3", output / "trace.jsonl", output / "voiceguard.log"):
        assert said not in recorded.read_bytes() and b"4111111111111111" not in recorded.read_bytes()


def test_demo_with_its_guards_off_reports_the_claims_that_fail(tmp_path: Path) -> None:
    """The claims are checked, not asserted: with no guard in the chain they fail, and say so."""
    console = Console(file=io.StringIO(), width=120)
    start_without_guards = functools.partial(server.start, guards=[])
    with ProgressView(console) as steps:
        result = asyncio.run(run_bounded(prepare_output(tmp_path / "demo"), start_without_guards, steps, 110))
    claims = checks(result)
    report(console, result, claims)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    failed = {claim.claim for claim in claims if not claim.ok}
    assert {
        "the LLM vendor never received the card number",
        "Deepgram never received the diarize option",
        "the AI disclosure was put into the first reply",
    } <= failed
    assert "✗ the LLM vendor never received the card number" in out and "claim(s) failed" in out
    assert "✓ the audit log verifies" in out


def test_demo_never_replaces_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(DemoError, match="not made by voiceguard demo"):
        prepare_output(tmp_path)
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep me"
    made = prepare_output(tmp_path / "demo")
    (made / "trace.jsonl").write_text("old run", encoding="utf-8")
    assert not (prepare_output(made) / "trace.jsonl").exists()
