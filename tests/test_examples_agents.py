"""The agent examples run as a user runs them: ``python examples/...`` against a live voiceguard in front of
the simulated vendors, and what reached the vendors shows voiceguard was in the path.

Pipecat and LiveKit Agents are not installed here (about 770 MB with their ML dependencies), so their
examples are checked for the URLs they point the services at: each is a voiceguard route with the
protocol the service speaks, and a live request to it is answered by that route's vendor.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ProxyFactory
from tests.example_modules import load_example
from voiceguard.config import DEFAULT_ROUTES
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp, start_app
from voiceguard.simulator.__main__ import CALLER_SAYS, DEEPGRAM_KEY, OPENAI_KEY
from voiceguard.simulator.backend import Backend
from voiceguard.simulator.deepgram_api import deepgram_app
from voiceguard.simulator.openai_api import openai_app

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DISCLOSURE = "Hi, you're speaking with an AI assistant."


@pytest.fixture
def vendor() -> Backend:
    backend = Backend(api_keys=frozenset({OPENAI_KEY, DEEPGRAM_KEY}), default_transcript=CALLER_SAYS)
    return backend


@pytest.fixture
async def vendors(vendor: Backend) -> AsyncIterator[dict[str, RunningApp]]:
    apps = {"openai": await start_app(openai_app(vendor)), "deepgram": await start_app(deepgram_app(vendor))}
    yield apps
    for app in apps.values():
        await app.close()


@pytest.fixture
async def voiceguard(make_proxy: ProxyFactory, vendors: dict[str, RunningApp]) -> RunningServer:
    return await make_proxy({name: app.url for name, app in vendors.items()})


async def run_example(path: Path, proxy: RunningServer, *args: str) -> str:
    """Run an example script as a user would; returns its output, failing on a non-zero exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(path), *args,
        env={**os.environ, "VOICEGUARD_URL": proxy.url}, cwd=path.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode()[-3000:]
    return out.decode()


async def test_openai_pipeline_example_speaks_the_injected_disclosure_and_hides_the_card(
    voiceguard: RunningServer, vendor: Backend
) -> None:
    out = await run_example(EXAMPLES / "sdk" / "openai_pipeline.py", voiceguard)
    assert f"agent:  {DISCLOSURE}" in out and "X-VoiceGuard-AI-Generated: true" in out
    chat = next(r for r in vendor.received if r.path == "/v1/chat/completions")
    assert b"<CREDIT_CARD_1>" in chat.body and b"4111" not in chat.body
    assert "4111 1111 1111 1111" in out  # restored for the agent


async def test_openai_realtime_example_completes_a_spoken_turn(voiceguard: RunningServer) -> None:
    out = await run_example(EXAMPLES / "sdk" / "openai_realtime.py", voiceguard)
    assert f"caller: {CALLER_SAYS}" in out and "agent:  You said:" in out
    assert re.search(r"speech: [1-9]\d* bytes", out)


async def test_deepgram_live_example_is_told_diarization_was_stripped(
    voiceguard: RunningServer, vendor: Backend
) -> None:
    out = await run_example(EXAMPLES / "sdk" / "deepgram_live.py", voiceguard)
    assert "X-VoiceGuard-Stripped: diarization; policy=BIPA-15b-CONSENT" in out
    assert "(speaker labels: {None})" in out
    listen = next(r for r in vendor.received if r.path == "/v1/listen")
    assert not any(key.startswith("diarize") for key, _ in listen.query)


async def test_twilio_bridge_example_answers_a_phone_call_through_voiceguard(
    make_proxy: ProxyFactory, vendors: dict[str, RunningApp], vendor: Backend
) -> None:
    agent_module = load_example(EXAMPLES / "twilio" / "agent_server.py")
    agent_app = agent_module.app()
    config = (EXAMPLES / "twilio" / "voiceguard.yaml").read_text(encoding="utf-8")
    assert "protocol: twilio" in config
    agent = await start_app(agent_app)
    try:
        proxy = await make_proxy(
            {name: app.url for name, app in vendors.items()},
            routes={"phone": {"upstream": agent.url, "protocol": "twilio"}},
        )
        agent_module.VOICEGUARD = proxy.url
        out = await run_example(EXAMPLES / "twilio" / "call.py", proxy)
    finally:
        await agent.close()
    assert re.search(r"the agent answered with [1-9]\d* media frames", out)
    speak = next(r for r in vendor.received if r.path == "/v1/speak")
    assert b"AI assistant" in speak.body  # the injected disclosure is what the phone line heard
    assert dict(speak.query)["encoding"] == "mulaw"


# --- Pipecat and LiveKit: the URLs they are configured with -------------------------------------------------

FRAMEWORK_URLS = {
    EXAMPLES / "pipecat" / "bot.py": {"/deepgram", "/openai/v1"},
    EXAMPLES / "livekit" / "agent.py": {"/deepgram/v1/listen", "/openai/v1"},
}


@pytest.mark.parametrize("path", sorted(FRAMEWORK_URLS), ids=lambda p: p.parent.name)
def test_framework_examples_point_their_services_at_voiceguard_routes(path: Path) -> None:
    found = set(re.findall(r'f"\{VOICEGUARD\}(/[^"]*)"', path.read_text(encoding="utf-8")))
    assert found == FRAMEWORK_URLS[path]
    for url in found:
        route = url.split("/")[1]
        assert route in DEFAULT_ROUTES, f"{url} is not a voiceguard route"
    readme = (path.parent / "README.md").read_text(encoding="utf-8")
    assert all(url in readme for url in found), "the README shows the same lines"


async def test_the_framework_urls_reach_the_vendor_behind_voiceguard(
    voiceguard: RunningServer, vendor: Backend
) -> None:
    """What the frameworks derive from those URLs: Deepgram's live socket, OpenAI's chat endpoint."""
    ws = voiceguard.url.replace("http", "ws", 1)
    async with aiohttp.ClientSession() as http:
        # Pipecat: base_url + the SDK's /v1/listen; LiveKit: base_url as given, scheme made ws
        for socket_url in (f"{ws}/deepgram/v1/listen", f"{ws}/deepgram/v1/listen?model=nova-3"):
            async with http.ws_connect(
                socket_url, headers={"Authorization": f"Token {DEEPGRAM_KEY}"}
            ) as sock:
                await sock.send_str('{"type": "CloseStream"}')
                assert (await sock.receive(timeout=10)).type is aiohttp.WSMsgType.TEXT
        async with http.post(
            f"{voiceguard.url}/openai/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {OPENAI_KEY}"},
        ) as reply:
            assert reply.status == 200
    assert [r.path for r in vendor.received] == ["/v1/listen", "/v1/listen", "/v1/chat/completions"]
