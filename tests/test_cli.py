"""The ``voiceguard`` command as a user runs it: a real process, real signals, real exit codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.leakscan import keep_output

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"voiceguard exited early: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_voiceguard/healthz", timeout=1
            ) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("voiceguard did not become healthy")


def test_serve_on_embedded_defaults_answers_health_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "VOICEGUARD_DATA_DIR": str(tmp_path / "data")}
    with subprocess.Popen(
        [sys.executable, "-m", "voiceguard", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        try:
            _wait_healthy(port, process)
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
    keep_output("cli-serve", err)
    assert process.returncode == 0
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    listening = next(line for line in lines if line["event"] == "listening")
    assert set(listening["routes"]) == {
        "openai",
        "deepgram",
        "deepgram-agent",
        "elevenlabs",
        "anthropic",
        "gemini",
    }


def test_bad_config_stops_startup_with_the_key_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("listen: {prot: 1}\n")
    result = subprocess.run(
        [sys.executable, "-m", "voiceguard", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "listen.prot: unknown key; allowed here: host, port" in result.stderr


def test_a_pii_engine_that_is_not_installed_stops_startup_with_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "missing-model.yaml"
    config.write_text(
        f"listen: {{port: 0}}\ndata_dir: {tmp_path / 'data'}\npii: {{engine: xx_no_such_model}}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "voiceguard", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "pii.engine: spaCy model 'xx_no_such_model' is not installed" in result.stderr
    assert "pii.engine: pattern" in result.stderr
