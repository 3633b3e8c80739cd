"""Runs the demo: simulated vendors, voiceguard on its embedded defaults, the scripted call, the evidence.

voiceguard runs in this process through the same server factory as ``voiceguard serve`` (handed in by
``cli.py``, the only module that imports the server), on a free loopback port, with the shipped policy
packs, the PII guard, an audit log and a trace file under the demo's output directory. Everything started
here is stopped here, also when something fails, so no process or port outlives the demo.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Final, Protocol

import yaml

from voiceguard.config import Settings, load_settings
from voiceguard.demo import script
from voiceguard.demo.agent import DemoAgent
from voiceguard.demo.evidence import CallRecorder, read_audit, read_trace
from voiceguard.demo.outcome import DemoRun
from voiceguard.demo.vendors import SimulatedVendors, start_vendors
from voiceguard.records import Sink
from voiceguard.telemetry.export import otlp_target

MARKER: Final = ".voiceguard-demo"
"""Marks a directory the demo made, so a second run may replace it and nothing else is ever deleted."""


class RunningProxy(Protocol):
    @property
    def url(self) -> str: ...

    async def close(self) -> None: ...


class StartProxy(Protocol):
    """``voiceguard.server.start``: bind, start, return the running proxy."""

    def __call__(
        self, settings: Settings, *, extra_sinks: Sequence[Sink] = ()
    ) -> Awaitable[RunningProxy]: ...


class Steps(Protocol):
    """Where the runner reports progress (the terminal display, or nothing)."""

    def begin(self, text: str) -> None: ...

    def detail(self, text: str) -> None: ...

    def done(self, text: str) -> None: ...


class DemoError(Exception):
    """The demo cannot run or did not finish; the message says why."""


def prepare_output(output: Path) -> Path:
    """An empty output directory: created, or a previous demo's replaced; anything else is left alone."""
    output = output.resolve()
    if output.exists():
        if not (output / MARKER).exists() and any(output.iterdir()):
            raise DemoError(f"{output} exists and was not made by voiceguard demo; choose another --output")
        shutil.rmtree(output)
    output.mkdir(parents=True)
    (output / MARKER).write_text("made by `voiceguard demo`; replaced by its next run\n", encoding="utf-8")
    return output


def write_config(output: Path, vendors: SimulatedVendors) -> Path:
    """The demo's configuration on top of the embedded defaults, kept so its audit log can be verified."""
    config = {
        "listen": {"host": "127.0.0.1", "port": 0},
        "data_dir": str(output / "data"),
        "telemetry": {"trace_file": str(output / "trace.jsonl")},
        "routes": {name: {"upstream": url} for name, url in vendors.upstreams.items()},
    }
    path = output / "voiceguard.yaml"
    header = (
        "# What `voiceguard demo` ran with, on top of the embedded defaults. The routes pointed at the\n"
        "# local SIMULATED OpenAI and Deepgram (stopped when the demo ended).\n"
    )
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def otlp_endpoint() -> str | None:
    """Where spans also go, when the standard OpenTelemetry variables name a collector."""
    target = otlp_target(os.environ, "traces")
    return target.endpoint if target is not None else None


async def _call(
    proxy: RunningProxy, vendors: SimulatedVendors, recorder: CallRecorder, steps: Steps
) -> DemoAgent:
    async with DemoAgent(proxy.url, recorder.call_id) as agent:
        for number, turn in enumerate(script.TURNS, start=1):
            steps.begin(f"Turn {number}/{len(script.TURNS)}: {turn.shows}")
            vendors.prepare(turn)
            recorder.playing = number
            await agent.take_turn(turn, steps.detail)
            steps.done(f"Turn {number}/{len(script.TURNS)}: {turn.shows}")
    return agent


async def run_demo(output: Path, start_proxy: StartProxy, steps: Steps) -> DemoRun:
    started = time.monotonic()
    call_id = f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    steps.begin("Starting the simulated OpenAI and Deepgram")
    vendors = await start_vendors()
    try:
        config_path = write_config(output, vendors)
        steps.done(
            f"Simulated OpenAI and Deepgram up (ports {vendors.openai_app.port}, {vendors.deepgram_app.port})"
        )
        steps.begin("Starting voiceguard (policy packs, PII models, audit log)")
        settings = load_settings(config_path, env={})
        recorder = CallRecorder(call_id)
        proxy = await start_proxy(settings, extra_sinks=[recorder])
        try:
            steps.done(f"voiceguard on {proxy.url}, embedded defaults")
            agent = await _call(proxy, vendors, recorder, steps)
        finally:
            steps.begin("Stopping voiceguard (the call ends, the trace is flushed, the audit log sealed)")
            await proxy.close()
        steps.done("voiceguard stopped: call ended, trace flushed, audit log sealed")
    finally:
        await vendors.close()
    steps.begin("Verifying the audit log and reading the trace file")
    audit = await read_audit(settings)
    trace = read_trace(settings.telemetry.trace_file or output / "trace.jsonl")
    steps.done("Audit log verified, trace file read")
    return DemoRun(
        call_id=call_id,
        output=output,
        config_path=config_path,
        voiceguard_url=proxy.url,
        agent=agent.log,
        vendors=vendors,
        recorder=recorder,
        audit=audit,
        trace=trace,
        otlp_endpoint=otlp_endpoint(),
        seconds=time.monotonic() - started,
    )


async def run_bounded(output: Path, start_proxy: StartProxy, steps: Steps, timeout_s: float) -> DemoRun:
    try:
        async with asyncio.timeout(timeout_s):
            return await run_demo(output, start_proxy, steps)
    except TimeoutError:
        raise DemoError(f"the demo did not finish within {timeout_s:.0f} s") from None
