"""Consent through the admin API and the ``voiceguard consent`` CLI, against a running proxy."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import aiohttp
import pytest

from tests.conftest import ProxyFactory
from voiceguard.consent.model import CALL_CONSENT, ConsentSlot, Purpose, now_utc
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp

TOKEN = "admin-" + os.urandom(8).hex()
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GRANT = {
    "subject": "+13125550100",
    "purpose": "voiceprint",
    "jurisdiction": "US-IL",
    "notice_version": "bipa-v3",
    "notice_sha256": "ab" * 32,
    "signature": "electronic",
    "evidence_ref": "esign:envelope-7",
    "valid_days": 365,
}


@pytest.fixture
async def admin_proxy(
    make_proxy: ProxyFactory, openai_upstream: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> RunningServer:
    monkeypatch.setenv("VOICEGUARD_ADMIN_TOKEN", TOKEN)
    return await make_proxy({"openai": openai_upstream.url})


async def api(
    proxy: RunningServer, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            f"{proxy.url}/_voiceguard/consent{path}",
            json=body,
            headers=AUTH if headers is None else headers,
        ) as response,
    ):
        return response.status, await response.json()


async def test_grant_list_and_withdraw_through_the_api(admin_proxy: RunningServer) -> None:
    status, record = await api(admin_proxy, "POST", "", GRANT)
    assert status == 201
    assert record["purpose"] == "voiceprint" and record["signature"] == "electronic"
    assert record["subject_hash"] == admin_proxy.runtime.keys.subject_hash("+13125550100")
    assert "+13125550100" not in str(record) and record["expires_at"] is not None
    status, listed = await api(admin_proxy, "GET", "?subject=%2B13125550100")
    assert status == 200 and [r["id"] for r in listed["records"]] == [record["id"]]
    status, withdrawn = await api(admin_proxy, "DELETE", f"/{record['id']}")
    assert status == 200 and withdrawn["withdrawn"][0]["withdrawn_at"] is not None
    assert (await api(admin_proxy, "GET", "?subject=%2B13125550100"))[1]["records"] == []
    status, everything = await api(admin_proxy, "GET", "?include_withdrawn=true&purpose=voiceprint")
    assert [r["id"] for r in everything["records"]] == [record["id"]]
    assert (await api(admin_proxy, "DELETE", f"/{record['id']}"))[0] == 404


async def test_bad_grants_are_refused_with_the_field_named(admin_proxy: RunningServer) -> None:
    status, body = await api(admin_proxy, "POST", "", {**GRANT, "signature": "nod"})
    assert status == 400 and "signature" in body["error"]["message"]
    status, body = await api(admin_proxy, "POST", "", {**GRANT, "expires_at": "2030-01-01T00:00:00"})
    assert status == 400 and "time zone" in body["error"]["message"]
    status, body = await api(admin_proxy, "POST", "", {**GRANT, "colour": "red"})
    assert status == 400 and "colour" in body["error"]["message"]
    status, body = await api(admin_proxy, "GET", "?purpose=mind-reading")
    assert status == 400 and "purpose must be one of" in body["error"]["message"]
    status, body = await api(admin_proxy, "POST", "/withdraw", {"purpose": "voiceprint"})
    assert status == 400 and "subject or a consent_id" in body["error"]["message"]


async def test_the_consent_api_needs_the_bearer_token(admin_proxy: RunningServer) -> None:
    status, body = await api(admin_proxy, "POST", "", GRANT, headers={"Authorization": "Bearer wrong"})
    assert status == 401 and body["error"]["type"] == "unauthorized"
    assert (await api(admin_proxy, "GET", "", headers={}))[0] == 401


async def test_a_withdrawal_reaches_a_call_already_running_before_the_api_answers(
    admin_proxy: RunningServer,
) -> None:
    await api(admin_proxy, "POST", "", GRANT)
    async with aiohttp.ClientSession() as http:
        headers = {
            "X-VoiceGuard-Call-Id": "running-call",
            "X-VoiceGuard-Subject": "+13125550100",
            "X-VoiceGuard-Jurisdiction": "US-IL",
            "Authorization": "Bearer sk-test",
        }
        async with http.get(f"{admin_proxy.url}/openai/v1/models", headers=headers) as response:
            await response.read()
    call = admin_proxy.runtime.pipeline.calls.get("running-call")
    assert call is not None
    view = call.scratch(CALL_CONSENT, ConsentSlot).view
    assert view is not None and view.active(Purpose.VOICEPRINT, now_utc())
    await api(admin_proxy, "POST", "/withdraw", {"subject": "+13125550100", "reason": "changed mind"})
    assert view.active(Purpose.VOICEPRINT, now_utc()) == []


async def cli(proxy: RunningServer, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceguard",
        "consent",
        *args,
        "--server",
        proxy.url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "VOICEGUARD_ADMIN_TOKEN": TOKEN},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_the_cli_grants_lists_and_revokes_with_the_subject_from_stdin(
    admin_proxy: RunningServer,
) -> None:
    code, out, err = await cli(
        admin_proxy,
        "grant",
        "--subject",
        "-",
        "--purpose",
        "voiceprint",
        "--signature",
        "written",
        "--notice-version",
        "bipa-v3",
        "--jurisdiction",
        "US-IL",
        "--valid-days",
        "30",
        stdin=b"+13125550100\n",
    )
    assert code == 0, err
    assert "voiceprint" in out and "written" in out and "active" in out
    code, out, _ = await cli(admin_proxy, "list", "--subject", "+13125550100")
    assert code == 0 and out.count("cns_") == 1
    code, out, _ = await cli(admin_proxy, "revoke", "--subject", "+13125550100", "--purpose", "voiceprint")
    assert code == 0 and "withdrawn" in out
    code, out, _ = await cli(admin_proxy, "list", "--subject", "+13125550100", "--all", "--json")
    assert code == 0 and '"withdrawn_at": "' in out


@pytest.mark.slow
async def test_the_cli_explains_a_refusal_and_a_missing_token(admin_proxy: RunningServer) -> None:
    code, _, err = await cli(admin_proxy, "revoke", "--id", "not-an-id")
    assert code == 1 and "bad_request" in err
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voiceguard", "consent", "list", "--server", admin_proxy.url,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "VOICEGUARD_ADMIN_TOKEN"},
    )  # fmt: skip
    _, err_bytes = await process.communicate()
    assert process.returncode == 2 and "VOICEGUARD_ADMIN_TOKEN" in err_bytes.decode()
