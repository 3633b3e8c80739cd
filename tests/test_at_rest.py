"""Secrets at rest: key files sealed and private, refused when others can read them, and nothing personal
left in the data directory after calls that carried a card number, a caller's phone number and a consent.

The pseudonym map itself never touches disk (it lives sealed in the call's memory, see ``pii/vault.py``);
what is checked here is that no trace of what it protected is written anywhere under the data directory.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ProxyFactory
from tests.processes import write_config
from voiceguard.keys import KeyStore
from voiceguard.simulator import RunningApp

CARD = "4111 1111 1111 1111"
CALLER = "+13125550100"
TOKEN = "at-rest-admin-" + os.urandom(8).hex()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_after_calls_the_data_directory_holds_only_sealed_keys_and_no_personal_data(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    deepgram_upstream: RunningApp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOICEGUARD_ADMIN_TOKEN", TOKEN)
    proxy = await make_proxy({"openai": openai_upstream.url, "deepgram": deepgram_upstream.url})
    caller = {
        "X-VoiceGuard-Subject": CALLER,
        "X-VoiceGuard-Jurisdiction": "US-IL",
        "X-VoiceGuard-Call-Id": "rest-1",
    }
    async with aiohttp.ClientSession() as client:
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"my card is {CARD}"}]}
        async with client.post(
            f"{proxy.url}/openai/v1/chat/completions",
            json=chat,
            headers={**caller, "Authorization": "Bearer sk-test"},
        ) as response:
            assert response.status == 200
        release = {"subject": CALLER, "purpose": "voiceprint", "notice_version": "n1", "signature": "written"}
        async with client.post(
            f"{proxy.url}/_voiceguard/consent", json=release, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status == 201
        async with client.post(
            f"{proxy.url}/deepgram/v1/listen",
            params={"model": "nova-3", "diarize": "true"},
            data=os.urandom(3200),
            headers={**caller, "Content-Type": "audio/wav", "Authorization": "Token sk-test"},
        ) as response:
            assert response.status == 200
    await proxy.close()

    data_dir = tmp_path / "data"
    keys_dir = data_dir / "keys"
    assert _mode(keys_dir) == 0o700
    key_files = sorted(keys_dir.iterdir())
    assert {path.name for path in key_files} >= {"master.key", "subject.key", "ed25519-audit.key"}
    for path in key_files:
        assert _mode(path) == 0o600, path
        if path.name != "master.key":
            assert path.read_bytes().startswith(b"vgk1"), f"{path.name} is not sealed"

    store = KeyStore(data_dir, env={})
    master = (keys_dir / "master.key").read_bytes()
    secrets = {name: store.secret(name) for name in ("subject", "ed25519-audit")}
    forbidden = {
        "card number": CARD.encode(),
        "card digits": CARD.replace(" ", "").encode(),
        "caller": CALLER.encode(),
        "api key": b"sk-test",
        **{f"{name} key in clear": value for name, value in secrets.items()},
    }
    for path in data_dir.rglob("*"):
        if not path.is_file():
            continue
        content = path.read_bytes()
        if path != keys_dir / "master.key":
            assert master not in content, f"the master key is in {path}"
        for what, needle in forbidden.items():
            assert needle not in content, f"{what} found in {path.relative_to(data_dir)}"


def _serve(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path / "vg.yaml", {"data_dir": str(tmp_path / "data"), "listen": {"port": 0}})
    return subprocess.run(
        [sys.executable, "-m", "voiceguard", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "VOICEGUARD_MASTER_KEY": ""},
    )


@pytest.mark.slow
@pytest.mark.parametrize("exposed", ["master.key", "ed25519-audit.key", "keys directory"])
def test_serve_refuses_key_material_that_others_can_read(tmp_path: Path, exposed: str) -> None:
    store = KeyStore(tmp_path / "data", env={})
    store.signing_key("audit")
    target = store.directory if exposed == "keys directory" else store.directory / exposed
    target.chmod(0o755 if target.is_dir() else 0o644)
    result = _serve(tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "key material refused" in result.stderr
    assert f"chmod {'700' if target.is_dir() else '600'} {target}" in result.stderr
