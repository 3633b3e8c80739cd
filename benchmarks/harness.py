"""Shared benchmark plumbing: start processes, wait for them, time requests, summarise percentiles.

Every target (direct, voiceguard, and peers) runs in its own process on loopback, and the load generator
is this process, so the proxy never shares an interpreter with what measures it. Runs alternate between
targets in short rounds, because this machine is shared and noisy: a slow second hits both sides alike.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


@contextlib.contextmanager
def process(
    args: Sequence[str], health_url: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` until the block ends; waits for ``health_url`` to answer first."""
    proc = subprocess.Popen(
        list(args), env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_http(health_url)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s: a benchmark never leaves a target running behind it."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def upstream(sse_interval: float = 0.0, realtime_out_ms: float = 0.0) -> Iterator[str]:
    port = free_port()
    args = [
        sys.executable,
        str(ROOT / "benchmarks" / "upstream.py"),
        "--port",
        str(port),
        "--sse-interval",
        str(sse_interval),
        "--realtime-out-ms",
        str(realtime_out_ms),
    ]
    with process(args, f"http://127.0.0.1:{port}/health"):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def voiceguard(
    upstream_url: str, extra_config: dict[str, object] | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """A voiceguard process on embedded defaults with the openai route pointed at ``upstream_url``."""
    with voiceguard_process(upstream_url, extra_config, env) as (url, _proc):
        yield url


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def voiceguard_process(
    upstream_url: str, extra_config: dict[str, object] | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``voiceguard`` that also hands over its process (to read its CPU time)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vg-bench-") as tmp:
        config: dict[str, object] = {
            "listen": {"port": port},
            "data_dir": tmp,
            "routes": {"openai": {"upstream": upstream_url}},
        }
        config.update(extra_config or {})
        path = Path(tmp) / "voiceguard.yaml"
        path.write_text(yaml.safe_dump(config))
        args = [sys.executable, "-m", "voiceguard", "serve", "--config", str(path)]
        with process(args, f"http://127.0.0.1:{port}/_voiceguard/healthz", env=env) as proc:
            yield f"http://127.0.0.1:{port}/openai", proc


@dataclass(frozen=True)
class Summary:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Summary:
        ordered = sorted(samples_ns)
        if not ordered:
            return cls(0, float("nan"), float("nan"), float("nan"))

        def pick(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6

        return cls(len(ordered), pick(0.50), pick(0.95), pick(0.99))


def added(proxied: Summary, direct: Summary) -> Summary:
    """What the proxy adds, percentile by percentile."""
    return Summary(
        proxied.count,
        proxied.p50_ms - direct.p50_ms,
        proxied.p95_ms - direct.p95_ms,
        proxied.p99_ms - direct.p99_ms,
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, also valid Markdown, for the README."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
