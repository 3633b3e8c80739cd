"""BIPA on the wire: the deepgram-sdk through voiceguard to the simulated Deepgram, with consent changing.

A US-IL caller without consent gets no diarization upstream and no speaker labels back, and is told; with
a written release recorded through the admin API (and the retention schedule BIPA 15(a) asks for
published) the option reaches the vendor; after withdrawal (CLI or API) it is stripped again, including
from a live stream that is already running. The rules are the shipped policy packs'.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import structlog
from deepgram import AsyncDeepgramClient
from deepgram.core.api_error import ApiError

from tests.conftest import ProxyFactory
from tests.test_deepgram_sdk_dropin import deepgram_client
from voiceguard.records import DecisionMade
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend
from voiceguard.testing import RecordingSink

TOKEN = "admin-" + os.urandom(8).hex()
CALLER = "+13125550100"
ILLINOIS = {"X-VoiceGuard-Subject": CALLER, "X-VoiceGuard-Jurisdiction": "US-IL"}
RELEASE = {
    "subject": CALLER,
    "purpose": "voiceprint",
    "jurisdiction": "US-IL",
    "notice_version": "bipa-notice-2026-01",
    "signature": "written",
    "evidence_ref": "scan:release-0042",
}
LIVE_ILLINOIS = {"vg_subject": CALLER, "vg_jurisdiction": "US-IL"}
PUBLISHED = {
    "retention_schedule_url": "https://example.com/biometric-retention",
    "retention_schedule_sha256": "cd" * 32,
}
AUDIO = os.urandom(32_000)
"""One second of 16 kHz PCM that is random, so any copy of it in a record is unmistakable."""


@pytest.fixture
async def proxy(
    make_proxy: ProxyFactory, deepgram_upstream: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> RunningServer:
    monkeypatch.setenv("VOICEGUARD_ADMIN_TOKEN", TOKEN)
    return await make_proxy({"deepgram": deepgram_upstream.url}, biometrics=PUBLISHED)


async def admin(proxy: RunningServer, method: str, path: str, body: object = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            f"{proxy.url}/_voiceguard/consent{path}",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response,
    ):
        assert response.status < 300, await response.text()
        return await response.json()


async def transcribe(client: AsyncDeepgramClient, headers: dict[str, str] | None = None) -> Any:
    return await client.listen.v1.media.with_raw_response.transcribe_file(
        request=AUDIO,
        model="nova-3",
        diarize=True,
        utterances=True,
        request_options={"additional_headers": ILLINOIS if headers is None else headers},
    )


def upstream_query(backend: Backend) -> dict[str, str]:
    return dict(backend.received[-1].query)


def speakers(result: Any) -> list[Any]:
    words = result.results.channels[0].alternatives[0].words
    return [word.speaker for word in words] + [u.speaker for u in result.results.utterances or []]


async def test_illinois_caller_without_consent_gets_no_diarization_and_is_told(
    proxy: RunningServer, backend: Backend
) -> None:
    async with deepgram_client(proxy) as client:
        response = await transcribe(client)
    assert "diarize" not in upstream_query(backend)
    assert upstream_query(backend)["model"] == "nova-3"
    assert set(speakers(response.data)) == {None}
    assert response.headers["x-voiceguard-stripped"] == "diarization; policy=BIPA-15b-CONSENT"


async def test_a_caller_known_only_by_an_illinois_number_is_under_bipa_until_a_written_release(
    proxy: RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    """No jurisdiction header: the subject's +1 312 number puts the call in Illinois."""
    by_number = {"X-VoiceGuard-Subject": CALLER}
    async with deepgram_client(proxy) as client:
        stripped = await transcribe(client, by_number)
        assert "diarize" not in upstream_query(backend)
        assert set(speakers(stripped.data)) == {None}
        assert stripped.headers["x-voiceguard-stripped"] == "diarization; policy=BIPA-15b-CONSENT"
        await admin(proxy, "POST", "", RELEASE)
        allowed = await transcribe(client, by_number)
    assert upstream_query(backend)["diarize"] == "true"
    assert set(speakers(allowed.data)) == {0}
    [applied, *_] = [
        d.decision for d in recording.of(DecisionMade) if d.decision.rule_id == "VG-POLICY-APPLIED"
    ]
    assert ("jurisdiction", "US-IL") in applied.evidence and ("source", "subject") in applied.evidence
    [allow] = [d.decision for d in recording.of(DecisionMade) if d.decision.action == "allow"]
    assert ("policy_sha256", "cd" * 32) in allow.evidence


async def test_without_a_published_retention_schedule_a_release_does_not_unlock_diarization(
    make_proxy: ProxyFactory, deepgram_upstream: RunningApp, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEGUARD_ADMIN_TOKEN", TOKEN)
    proxy = await make_proxy({"deepgram": deepgram_upstream.url})
    await admin(proxy, "POST", "", RELEASE)
    async with deepgram_client(proxy) as client:
        response = await transcribe(client)
    assert "diarize" not in upstream_query(backend)
    assert response.headers["x-voiceguard-stripped"] == "diarization; policy=BIPA-15a-POLICY"


async def test_written_release_lets_diarization_through_and_withdrawal_by_cli_stops_it(
    proxy: RunningServer, backend: Backend
) -> None:
    await admin(proxy, "POST", "", RELEASE)
    async with deepgram_client(proxy) as client:
        response = await transcribe(client)
        assert upstream_query(backend)["diarize"] == "true"
        assert set(speakers(response.data)) == {0}
        assert "x-voiceguard-stripped" not in response.headers

        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voiceguard", "consent", "revoke", "--subject", CALLER,
            "--server", proxy.url,
            env={**os.environ, "VOICEGUARD_ADMIN_TOKEN": TOKEN}, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()

        response = await transcribe(client)
    assert "diarize" not in upstream_query(backend)
    assert set(speakers(response.data)) == {None}


async def test_a_spoken_yes_is_recorded_but_does_not_unlock_diarization_in_illinois(
    proxy: RunningServer, backend: Backend
) -> None:
    await admin(proxy, "POST", "", {**RELEASE, "signature": "spoken"})
    async with deepgram_client(proxy) as client:
        response = await transcribe(client)
    assert "diarize" not in upstream_query(backend)
    assert response.headers["x-voiceguard-stripped"] == "diarization; policy=BIPA-15b-CONSENT"


async def test_refuse_mode_answers_451_and_the_vendor_never_hears_the_audio(
    make_proxy: ProxyFactory, deepgram_upstream: RunningApp, backend: Backend
) -> None:
    proxy = await make_proxy({"deepgram": deepgram_upstream.url}, biometrics={"enforcement": "refuse"})
    async with deepgram_client(proxy) as client:
        with pytest.raises(ApiError) as refused:
            await transcribe(client)
    assert refused.value.status_code == 451
    assert refused.value.body["error"]["policy"] == "BIPA-15b-CONSENT"
    assert backend.received == []


async def test_a_caller_outside_biometric_jurisdictions_keeps_diarization(
    proxy: RunningServer, backend: Backend
) -> None:
    async with deepgram_client(proxy) as client:
        await client.listen.v1.media.transcribe_file(
            request=AUDIO, model="nova-3", diarize=True,
            request_options={"additional_headers": {"X-VoiceGuard-Jurisdiction": "US-CA"}},
        )  # fmt: skip
    assert upstream_query(backend)["diarize"] == "true"


@dataclasses.dataclass
class LiveResults:
    finals: list[Any] = dataclasses.field(default_factory=list)
    arrived: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


async def _collect(socket: Any, results: LiveResults) -> None:
    async for message in socket:
        if getattr(message, "type", None) == "Results" and message.is_final:
            results.finals.append(message)
            results.arrived.set()


async def _one_utterance(socket: Any, results: LiveResults) -> Any:
    results.arrived.clear()
    audio = AUDIO + AUDIO[:3200]  # a little over the simulator's one second per utterance
    for offset in range(0, len(audio), 3200):
        await socket.send_media(audio[offset : offset + 3200])
    await asyncio.wait_for(results.arrived.wait(), 10)
    return results.finals[-1]


async def test_withdrawal_strips_speaker_labels_from_a_live_stream_already_running(
    proxy: RunningServer, backend: Backend
) -> None:
    await admin(proxy, "POST", "", RELEASE)
    backend.script(["first utterance", "second utterance"])
    results = LiveResults()
    async with deepgram_client(proxy) as client, client.listen.v1.connect(
        model="nova-3", encoding="linear16", sample_rate="16000", diarize="true",
        request_options={"additional_query_parameters": {"vg_subject": CALLER, "vg_jurisdiction": "US-IL",
                                                         "vg_call_id": "live-1"}},
    ) as socket:  # fmt: skip
        reader = asyncio.create_task(_collect(socket, results))
        before = await _one_utterance(socket, results)
        await admin(proxy, "POST", "/withdraw", {"subject": CALLER, "purpose": "voiceprint"})
        after = await _one_utterance(socket, results)
        await socket.send_close_stream()
        await asyncio.wait_for(reader, 10)
    live = backend.received[-1]
    assert ("diarize", "true") in live.query and not any(k.startswith("vg_") for k, _ in live.query)
    assert {w.speaker for w in before.channel.alternatives[0].words} == {0}
    assert after.channel.alternatives[0].transcript == "second utterance"
    assert {w.speaker for w in after.channel.alternatives[0].words} == {None}


async def test_a_live_stream_without_consent_opens_without_diarization(
    proxy: RunningServer, backend: Backend
) -> None:
    results = LiveResults()
    async with deepgram_client(proxy) as client, client.listen.v1.connect(
        model="nova-3", encoding="linear16", sample_rate="16000", diarize="true",
        request_options={"additional_query_parameters": {"vg_subject": CALLER, "vg_jurisdiction": "US-IL"}},
    ) as socket:  # fmt: skip
        reader = asyncio.create_task(_collect(socket, results))
        final = await _one_utterance(socket, results)
        await socket.send_close_stream()
        await asyncio.wait_for(reader, 10)
    assert "diarize" not in dict(backend.received[-1].query)
    assert {w.speaker for w in final.channel.alternatives[0].words} == {None}


def _walk(value: object, seen: set[int], path: str = "record") -> Iterator[tuple[str, object]]:
    """Every value reachable from a record, with its path: dataclass fields, slots, containers (once each)."""
    if id(value) in seen or value is None or isinstance(value, (int, float, bool)):
        return
    seen.add(id(value))
    yield path, value
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return
    children: list[tuple[str, object]]
    if isinstance(value, dict):
        children = [(f"{path}[{k!r}]", v) for k, v in value.items()] + [(f"{path}.key", k) for k in value]
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    elif dataclasses.is_dataclass(value):
        # The live Call (and the audit sink's hash memo on it) keep the caller in memory on purpose, to
        # hash it; no sink writes those fields. Audio is looked for everywhere.
        children = [(f"{path}.{f.name}", getattr(value, f.name, None)) for f in dataclasses.fields(value)]
        children = [(p, v) for p, v in children if not p.endswith(".subject") or not isinstance(v, str)]
    else:
        slots = [slot for cls in type(value).__mro__ for slot in getattr(cls, "__slots__", ())]
        children = [(f"{path}.{slot}", getattr(value, slot, None)) for slot in slots]
        children += [(f"{path}.{k}", v) for k, v in getattr(value, "__dict__", {}).items()]
    for child_path, child in children:
        yield from _walk(child, seen, child_path)


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{24,}")


def contains_audio(data: bytes) -> bool:
    """Whether ``data`` holds any 16-byte stretch of the test's (random) audio."""
    return any(data[i : i + 16] in AUDIO for i in range(0, len(data) - 15, 8))


def assert_no_audio(values: Iterator[tuple[str, object]]) -> None:
    for path, value in values:
        if isinstance(value, (bytes, bytearray, memoryview)):
            assert not contains_audio(bytes(value)), f"audio bytes reached {path}"
        elif isinstance(value, str):
            for run in _BASE64_RUN.findall(value):
                for shift in range(4):  # a base64 run may start mid-quantum
                    chunk = run[shift:]
                    decoded = base64.b64decode(chunk[: len(chunk) // 4 * 4])
                    assert not contains_audio(decoded), f"base64 audio reached {path}"
            assert CALLER not in value, f"the raw subject reached {path}"


def test_the_audio_scan_finds_raw_and_base64_audio_anywhere() -> None:
    """The scan below could fail: it spots a slice of the audio, raw or base64 at any offset."""
    with pytest.raises(AssertionError, match="audio bytes"):
        assert_no_audio(iter([("x", b"head" + AUDIO[1001:1100])]))
    with pytest.raises(AssertionError, match="base64 audio"):
        assert_no_audio(iter([("x", '{"audio": "' + base64.b64encode(AUDIO[77:200]).decode() + '"}')]))


@pytest.fixture
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    with structlog.testing.capture_logs() as logs:
        yield logs


async def test_audio_and_the_raw_subject_never_reach_a_sink_or_a_log(
    proxy: RunningServer, backend: Backend, recording: RecordingSink, captured_logs: list[dict[str, Any]]
) -> None:
    await admin(proxy, "POST", "", RELEASE)
    async with deepgram_client(proxy) as client:
        await transcribe(client)
        results = LiveResults()
        async with client.listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate="16000", diarize="true",
            request_options={"additional_query_parameters": LIVE_ILLINOIS},
        ) as socket:  # fmt: skip
            reader = asyncio.create_task(_collect(socket, results))
            await _one_utterance(socket, results)
            await socket.send_close_stream()
            await asyncio.wait_for(reader, 10)
    await proxy.close()  # calls end: their records (and the sinks' last words) are in
    assert len(recording.records) > 10
    seen: set[int] = set()
    for record in recording.records:
        assert_no_audio(_walk(record, seen))
    assert_no_audio(_walk(captured_logs, set()))
