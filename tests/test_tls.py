"""voiceguard serves HTTPS and WSS from ``--tls-cert/--tls-key`` (config ``tls:``), with clear errors."""

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
from typing import Any

import anthropic
import pytest
import websockets

from tests.conftest import ProxyFactory
from tests.leakscan import keep_output
from tests.tls import self_signed, trusting
from voiceguard.simulator import RunningApp


async def test_an_sdk_speaks_https_to_voiceguard_while_voiceguard_speaks_http_upstream(
    tmp_path: Path,
    make_proxy: ProxyFactory,
    anthropic_upstream: RunningApp,
    observe_disclosure: dict[str, Any],
) -> None:
    cert, key = self_signed(tmp_path / "tls")
    proxy = await make_proxy(
        {"anthropic": anthropic_upstream.url}, tls={"cert": str(cert), "key": str(key)}, **observe_disclosure
    )
    http = anthropic.DefaultAsyncHttpxClient(verify=trusting(cert))
    async with anthropic.AsyncAnthropic(
        api_key="sk-test", base_url=f"{proxy.url}/anthropic", http_client=http, max_retries=0
    ) as client:
        message = await client.messages.create(
            model="claude-sonnet-5-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    assert proxy.url.startswith("https://127.0.0.1:")
    assert message.content[0].type == "text" and message.content[0].text == "You said: hi"


async def test_a_client_that_does_not_trust_the_certificate_is_refused(
    tmp_path: Path,
    make_proxy: ProxyFactory,
    anthropic_upstream: RunningApp,
    observe_disclosure: dict[str, Any],
) -> None:
    cert, key = self_signed(tmp_path / "tls")
    proxy = await make_proxy(
        {"anthropic": anthropic_upstream.url}, tls={"cert": str(cert), "key": str(key)}, **observe_disclosure
    )
    other, _ = self_signed(tmp_path / "other")
    url = f"wss://127.0.0.1:{proxy.port}/anthropic/v1/socket"
    with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
        async with websockets.connect(url, ssl=trusting(other)):
            pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_with_tls_flags_answers_https(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls")
    port = _free_port()
    env = {**os.environ, "VOICEGUARD_DATA_DIR": str(tmp_path / "data")}
    command = [
        sys.executable,
        "-m",
        "voiceguard",
        "serve",
        "--port",
        str(port),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
    ]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            status = None
            deadline = time.monotonic() + 20
            while status is None and time.monotonic() < deadline and process.poll() is None:
                try:
                    with urllib.request.urlopen(
                        f"https://127.0.0.1:{port}/_voiceguard/healthz", timeout=1, context=trusting(cert)
                    ) as response:
                        status = response.status
                except OSError:
                    time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
    keep_output("tls-serve", err)
    assert status == 200, err.decode()
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert f"https://127.0.0.1:{port}" in [line.get("url") for line in lines if line["event"] == "listening"]


@pytest.mark.parametrize(
    ("cert_text", "expected"),
    [(None, "tls: cert: no such file"), ("not a pem\n", "cannot load the TLS certificate")],
)
def test_an_unusable_certificate_stops_startup_with_a_clear_message(
    tmp_path: Path, cert_text: str | None, expected: str
) -> None:
    cert = tmp_path / "cert.pem"
    if cert_text is not None:
        cert.write_text(cert_text)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "voiceguard",
            "serve",
            "--port",
            "0",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(cert),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "VOICEGUARD_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 2
    assert expected in result.stderr
