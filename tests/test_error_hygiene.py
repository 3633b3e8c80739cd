"""An error voiceguard produces never echoes what the client sent: no key, no personal data.

Every failing request below carries a fake key and PII in its headers, path, query and body; whichever
check refuses it (routing, correlation, path, size, rate, HTTP parsing, upstream failure, admin auth), the
answer's status line, headers and body hold none of it, and neither does the process's log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.leakscan import NEEDLES
from tests.processes import ServeProcess, running
from tests.scripted import Observations, ThreadedApp, closed_port, scripted_app

pytestmark = pytest.mark.slow

CARD = "4111111111111111"
PHONE = "+13125550100"
KEY = "sk-test"
PII_BODY = f'{{"note": "card {CARD}, call me on {PHONE}", "api_key": "{KEY}"}}'.encode()


@pytest.fixture(scope="module")
def vg(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[ServeProcess]:
    upstream = ThreadedApp(scripted_app(Observations()))
    url = upstream.start()
    workdir = tmp_path_factory.mktemp("hygiene")
    try:
        with closed_port() as refused:
            config = {
                "data_dir": str(workdir / "data"),
                "routes": {"up": {"upstream": url}, "closed": {"upstream": f"http://127.0.0.1:{refused}"}},
                "limits": {
                    "max_request_body_bytes": 4096,
                    "max_header_bytes": 2048,
                    "call_requests_per_second": 0.01,
                    "call_request_burst": 1,
                },
                "timeouts": {"first_byte": 0.5},
            }
            with running(
                config,
                workdir=workdir,
                log_dir=log_dir,
                name="hygiene",
                env={"VOICEGUARD_ADMIN_TOKEN": "admin-token-for-tests"},
            ) as served:
                yield served
    finally:
        upstream.stop()


def _request(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: voiceguard", *[f"{k}: {v}" for k, v in headers.items()]]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


SECRET_HEADERS = {"Authorization": f"Bearer {KEY}", "X-Caller": PHONE, "Content-Type": "application/json"}

FAILING = {
    "unknown route": _request("POST", f"/nope/v1/{CARD}?key={KEY}&phone={PHONE}", SECRET_HEADERS, PII_BODY),
    "bad call id": _request(
        "POST", f"/up/ok?key={KEY}", {**SECRET_HEADERS, "X-VoiceGuard-Call-Id": f"{KEY}!{CARD}"}, PII_BODY
    ),
    "bad jurisdiction": _request("GET", "/up/ok", {**SECRET_HEADERS, "X-VoiceGuard-Jurisdiction": KEY}),
    "subject too long": _request("GET", "/up/ok", {**SECRET_HEADERS, "X-VoiceGuard-Subject": PHONE * 40}),
    "dot segments": _request("GET", f"/up/../{KEY}/{CARD}?phone={PHONE}", SECRET_HEADERS),
    "body too large": _request("POST", f"/up/ok?key={KEY}", SECRET_HEADERS, PII_BODY * 80),
    "header too large": _request("GET", "/up/ok", {**SECRET_HEADERS, "X-Pad": KEY + CARD * 200}),
    "request line too long": _request("GET", f"/up/ok?key={KEY}&card={CARD * 200}", SECRET_HEADERS),
    "bad request line": f"GET /up/{KEY} {CARD}\r\n\r\n".encode(),
    "bad chunked body": _request(
        "POST", f"/up/ok?key={KEY}", {**SECRET_HEADERS, "Transfer-Encoding": "chunked"}
    )
    + f"zz{CARD}\r\n{KEY}\r\n0\r\n\r\n".encode(),
    "upstream refused": _request("POST", f"/closed/v1/{CARD}?key={KEY}", SECRET_HEADERS, PII_BODY),
    "upstream timeout": _request("GET", f"/up/stall?key={KEY}&card={CARD}", SECRET_HEADERS),
    "admin wrong token": _request("GET", f"/_voiceguard/consent/{PHONE}", {"Authorization": f"Bearer {KEY}"}),
    "unknown admin path": _request("GET", f"/_voiceguard/{KEY}/{CARD}", SECRET_HEADERS),
}


async def _exchange(vg: ServeProcess, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", vg.port)
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        return head + await asyncio.wait_for(reader.readexactly(length), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("case", list(FAILING))
async def test_a_refused_request_is_answered_without_echoing_it(vg: ServeProcess, case: str) -> None:
    answer = await _exchange(vg, FAILING[case])
    status = int(answer.split(b" ", 2)[1])
    assert status >= 400, answer
    assert b'"error"' in answer.partition(b"\r\n\r\n")[2] or status == 404
    leaked = [needle for needle in NEEDLES if needle.encode() in answer]
    assert not leaked, f"{case}: the answer repeats {leaked}"


async def test_a_rate_limited_call_is_answered_without_echoing_it(vg: ServeProcess) -> None:
    headers = {**SECRET_HEADERS, "X-VoiceGuard-Call-Id": "hygiene-rate"}
    await _exchange(vg, _request("POST", f"/up/ok?key={KEY}", headers, PII_BODY))
    answer = await _exchange(vg, _request("POST", f"/up/ok?key={KEY}&card={CARD}", headers, PII_BODY))
    assert answer.startswith(b"HTTP/1.1 429")
    assert not [needle for needle in NEEDLES if needle.encode() in answer]


def test_the_process_log_holds_none_of_what_the_refused_requests_carried(vg: ServeProcess) -> None:
    assert FAILING  # the requests above ran against this same process first (module scope)
    text = vg.log_path.read_text(encoding="utf-8", errors="replace")
    events = [json.loads(line).get("event") for line in text.splitlines() if line.startswith("{")]
    assert "request" in events
    assert not [needle for needle in NEEDLES if needle in text]
