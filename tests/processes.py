"""``voiceguard serve`` as a real process: started from a config file, its stderr kept in a log file.

Logs go to a file under the session's log directory (see ``tests/leakscan.py``) rather than a pipe, so the
credential scan at the end of the run reads every line every voiceguard process wrote.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

STARTUP_S = 30.0


@dataclass
class ServeProcess:
    """A running ``voiceguard serve``; ``url`` is where it listens."""

    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log_lines(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far."""
        lines = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return lines

    def requests_of(self, call_id: str) -> list[dict[str, Any]]:
        """The access-log lines of one call."""
        return [
            line
            for line in self.log_lines()
            if line.get("event") == "request" and line.get("call_id") == call_id
        ]

    def wait_request_logged(self, call_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.requests_of(call_id)
            if found:
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"no request line for call {call_id} in {self.log_path}")

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a Prometheus sample's values over series matching ``labels`` (0 when absent)."""
        _status, text = self.get("/_voiceguard/metrics")
        total = 0.0
        for family in text_string_to_metric_families(text.decode()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def wait_metric(self, name: str, value: float, timeout: float = 10.0, **labels: str) -> None:
        deadline = time.monotonic() + timeout
        current = self.metric(name, **labels)
        while current != value and time.monotonic() < deadline:
            time.sleep(0.05)
            current = self.metric(name, **labels)
        assert current == value, f"{name}{labels} is {current}, expected {value}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(config)), encoding="utf-8")
    return path


def launch(
    config: Mapping[str, Any],
    *,
    workdir: Path,
    log_dir: Path,
    name: str,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> ServeProcess:
    """Start ``voiceguard serve --config`` on a free port and wait until it listens."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = write_config(workdir / f"{name}.yaml", {"listen": {"port": 0}, **config})
    log_path = log_dir / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "voiceguard", "serve", "--config", str(config_path), *args],
            env={**os.environ, **(env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    served = ServeProcess(process, log_path)
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"voiceguard exited with {process.returncode}:\n{log_path.read_text()}")
        listening = [line for line in served.log_lines() if line.get("event") == "listening"]
        if listening:
            served.url = listening[0]["url"]
            return served
        time.sleep(0.05)
    served.stop(signal.SIGKILL)
    raise AssertionError(f"voiceguard did not start listening:\n{log_path.read_text()}")


@contextmanager
def running(
    config: Mapping[str, Any],
    *,
    workdir: Path,
    log_dir: Path,
    name: str = "voiceguard",
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[ServeProcess]:
    served = launch(config, workdir=workdir, log_dir=log_dir, name=name, env=env, args=args)
    try:
        yield served
    finally:
        served.stop()


def audit_verify(
    config: Path, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``voiceguard audit verify --config`` as an operator runs it, after the servers stopped."""
    return subprocess.run(
        [sys.executable, "-m", "voiceguard", "audit", "verify", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
