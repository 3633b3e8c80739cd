"""OpenAI speaker diarization through voiceguard with the openai SDK: gated like Deepgram's ``diarize``.

``gpt-4o-transcribe-diarize`` diarizes by itself, so without consent where the packs gate diarization the
request is refused (nothing to strip); known-speaker references are voice samples matched against the
speakers (speaker identification), stripped from the upload where identification is gated.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import openai
import pytest

from tests.conftest import ProxyFactory
from tests.test_biometric_enforcement import PUBLISHED, TOKEN, admin
from voiceguard.records import DecisionMade
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.audio import tone_pcm16, wav
from voiceguard.simulator.backend import Backend
from voiceguard.testing import RecordingSink

AUDIO = wav(tone_pcm16(0.5, 16_000), 16_000)
REFERENCE = "data:audio/wav;base64," + base64.b64encode(wav(tone_pcm16(2.0, 16_000), 16_000)).decode()
CHICAGO = "+13125550177"
HOUSTON = "+17135550123"


@pytest.fixture
async def proxy(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    monkeypatch: pytest.MonkeyPatch,
    observe_disclosure: dict[str, Any],
) -> RunningServer:
    monkeypatch.setenv("VOICEGUARD_ADMIN_TOKEN", TOKEN)
    return await make_proxy({"openai": openai_upstream.url}, biometrics=PUBLISHED, **observe_disclosure)


async def diarize(proxy: RunningServer, caller: str, **more: Any) -> Any:
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0
    ) as client:
        return await client.audio.transcriptions.with_raw_response.create(
            model="gpt-4o-transcribe-diarize",
            file=("call.wav", io.BytesIO(AUDIO), "audio/wav"),
            response_format="diarized_json",
            chunking_strategy="auto",
            extra_headers={"X-VoiceGuard-Subject": caller},
            **more,
        )


async def test_a_diarization_model_without_consent_in_illinois_is_refused_before_the_vendor(
    proxy: RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    with pytest.raises(openai.APIStatusError) as refused:
        await diarize(proxy, CHICAGO)
    assert refused.value.status_code == 451
    assert isinstance(refused.value.body, dict) and refused.value.body["policy"] == "BIPA-15b-CONSENT"
    assert backend.received == []
    [refusal] = [r.decision for r in recording.of(DecisionMade) if r.decision.action == "block"]
    assert refusal.rule_id == "BIPA-15b-CONSENT" and ("feature", "diarization") in refusal.evidence


async def test_with_a_written_release_the_diarized_reply_keeps_its_speakers(
    proxy: RunningServer, backend: Backend
) -> None:
    backend.script(["Hello there. How can I help?"])
    await admin(
        proxy,
        "POST",
        "",
        {
            "subject": CHICAGO,
            "purpose": "voiceprint",
            "jurisdiction": "US-IL",
            "notice_version": "bipa-notice-2026-01",
            "signature": "written",
        },
    )
    response = await diarize(proxy, CHICAGO)
    result = response.parse()
    assert [segment.speaker for segment in result.segments] == ["A", "A"]
    assert backend.received[-1].path == "/v1/audio/transcriptions"


async def test_texas_lets_diarization_through_but_strips_known_speaker_references(
    proxy: RunningServer, backend: Backend
) -> None:
    response = await diarize(
        proxy, HOUSTON, known_speaker_names=["agent"], known_speaker_references=[REFERENCE]
    )
    form = [name for name, _ in backend.received[-1].form]
    assert "model" in form and not any(name.startswith("known_speaker") for name in form)
    assert REFERENCE not in backend.received[-1].body.decode("latin-1")
    assert response.headers["x-voiceguard-stripped"] == "speaker_identification; policy=TX-CUBI-CONSENT"
    assert [segment.speaker for segment in response.parse().segments] == ["A"]


async def test_where_no_biometric_law_applies_known_speakers_reach_the_vendor(
    proxy: RunningServer, backend: Backend
) -> None:
    response = await diarize(
        proxy, "+14155550100", known_speaker_names=["agent"], known_speaker_references=[REFERENCE]
    )
    assert ("known_speaker_names[]", "agent") in backend.received[-1].form
    assert ("known_speaker_references[]", REFERENCE) in backend.received[-1].form
    assert [segment.speaker for segment in response.parse().segments] == ["agent"]
    assert "x-voiceguard-stripped" not in response.headers
