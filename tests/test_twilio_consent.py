"""A Twilio caller's consent applies to their own socket, and to the agent's requests naming the call SID.

Twilio connects to voiceguard, which relays the stream to the agent's server; the caller's number arrives
only in the ``start`` message. Their consent is loaded when that message names them (not on some later
exchange), and the agent's own Deepgram request, sent with ``X-VoiceGuard-Call-Id: <callSid>`` and no
subject of its own, joins the same call: the caller's jurisdiction (+1 312: Illinois) and consent decide
whether its diarization goes through.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conftest import ProxyFactory
from tests.consent.test_registry import eventually
from tests.test_biometric_enforcement import PUBLISHED, TOKEN, admin, speakers, upstream_query
from tests.test_deepgram_sdk_dropin import deepgram_client
from voiceguard.consent.model import CALL_CONSENT, ConsentSlot
from voiceguard.records import ExchangeStarted
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend
from voiceguard.simulator.twilio_media import twilio_media_stream
from voiceguard.testing import RecordingSink

CALLER = "+13125550142"
CALL_SID = "CA" + os.urandom(16).hex()
RELEASE = {
    "subject": CALLER,
    "purpose": "voiceprint",
    "jurisdiction": "US-IL",
    "notice_version": "bipa-notice-2026-01",
    "signature": "electronic",
}


@pytest.fixture
async def proxy(
    make_proxy: ProxyFactory,
    agent_server: RunningApp,
    deepgram_upstream: RunningApp,
    monkeypatch: pytest.MonkeyPatch,
) -> RunningServer:
    monkeypatch.setenv("VOICEGUARD_ADMIN_TOKEN", TOKEN)
    routes = {"phone": {"upstream": agent_server.url, "protocol": "twilio"}}
    return await make_proxy({"deepgram": deepgram_upstream.url}, routes=routes, biometrics=PUBLISHED)


def consent_loaded(proxy: RunningServer) -> bool:
    call = proxy.runtime.pipeline.calls.get(CALL_SID)
    view = call.scratch(CALL_CONSENT, ConsentSlot).view if call is not None else None
    return view is not None and view.loaded


async def agent_transcribes(proxy: RunningServer) -> Any:
    """The agent's own STT request for the call, named by the call SID only."""
    async with deepgram_client(proxy) as client:
        return await client.listen.v1.media.with_raw_response.transcribe_file(
            request=b"\x00" * 3200,
            model="nova-3",
            diarize=True,
            request_options={"additional_headers": {"X-VoiceGuard-Call-Id": CALL_SID}},
        )


async def test_consent_is_loaded_when_the_start_message_names_the_caller_and_reaches_the_agents_requests(
    proxy: RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    await admin(proxy, "POST", "", RELEASE)
    url = f"ws://{proxy.host}:{proxy.port}/phone/media"
    async with twilio_media_stream(url, call_sid=CALL_SID) as call:
        assert not consent_loaded(proxy)  # nobody is named yet: the socket's call has no subject
        await call.start({"From": CALLER})
        await eventually(lambda: consent_loaded(proxy))
        response = await agent_transcribes(proxy)
        await call.stop()
    assert upstream_query(backend)["diarize"] == "true"
    assert set(speakers(response.data)) == {0}
    twilio, agent = (record.exchange for record in recording.of(ExchangeStarted))
    assert agent.call is twilio.call and agent.route == "deepgram"


async def test_without_the_callers_consent_the_agents_diarization_is_stripped(
    proxy: RunningServer, backend: Backend
) -> None:
    url = f"ws://{proxy.host}:{proxy.port}/phone/media"
    async with twilio_media_stream(url, call_sid=CALL_SID) as call:
        await call.start({"From": CALLER})
        await eventually(lambda: consent_loaded(proxy))
        response = await agent_transcribes(proxy)
        await call.stop()
    deepgram = [received for received in backend.received if received.path == "/v1/listen"]
    assert "diarize" not in dict(deepgram[-1].query)
    assert response.headers["x-voiceguard-stripped"] == "diarization; policy=BIPA-15b-CONSENT"
