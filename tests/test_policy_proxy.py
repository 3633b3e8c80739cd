"""Policies in a running proxy: a call's jurisdiction, the packs in force, reload, AI marking of speech."""

from __future__ import annotations

import asyncio
import io
import struct
import wave
from pathlib import Path

import aiohttp
import mutagen.mp3
import openai

from tests.conftest import ProxyFactory
from tests.policy_dirs import decisions, load_pack, policy_dir, rule, write_pack
from voiceguard.events import PolicyDecision
from voiceguard.records import DecisionMade
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.audio import speech_for
from voiceguard.testing import RecordingSink

CALL = "X-VoiceGuard-Call-Id"


def client_for(proxy: RunningServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0)


def applied(recording: RecordingSink) -> list[dict[str, str]]:
    return [
        dict(record.decision.evidence)
        for record in recording.of(DecisionMade)
        if record.decision.rule_id == "VG-POLICY-APPLIED"
    ]


def disclosures(recording: RecordingSink) -> list[PolicyDecision]:
    return decisions(recording, "EUAI-50.1-DISCLOSE")


async def chat(proxy: RunningServer, headers: dict[str, str]) -> str:
    async with client_for(proxy) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers=headers
        )
    return completion.choices[0].message.content or ""


async def test_jurisdiction_comes_from_the_header_then_the_callers_number_then_the_default(
    proxy: RunningServer, recording: RecordingSink
) -> None:
    await chat(proxy, {"X-VoiceGuard-Jurisdiction": "US-TX", "X-VoiceGuard-Subject": "+13125550100"})
    await chat(proxy, {"X-VoiceGuard-Subject": "+13125550100"})
    await chat(proxy, {"X-VoiceGuard-Subject": "+4930901820"})
    await chat(proxy, {"X-VoiceGuard-Subject": "customer-42"})
    header, chicago, berlin, default = applied(recording)
    assert (header["jurisdiction"], header["source"]) == ("US-TX", "header")
    assert "pack.texas-cubi" in header and "pack.bipa" in header  # every pack in force is named
    assert (chicago["jurisdiction"], chicago["source"]) == ("US-IL", "subject")
    assert chicago["scope"] == "US-IL US *"
    assert (berlin["jurisdiction"], berlin["scope"]) == ("DE", "DE EU *")
    assert (default["jurisdiction"], default["source"]) == ("EU", "default")


async def test_every_decision_names_the_digest_of_the_packs_in_force(
    proxy: RunningServer, recording: RecordingSink
) -> None:
    await chat(proxy, {})
    (policy,) = applied(recording)
    (disclosure,) = disclosures(recording)
    assert dict(disclosure.evidence)["policy_digest"] == policy["policy_digest"]
    version, sha256 = policy["pack.eu-ai-act-art50"].split("@")
    assert version == "1.0.0" and len(sha256) == 64


async def test_a_changed_pack_is_picked_up_without_restart_and_a_broken_one_is_refused(
    make_proxy: ProxyFactory, openai_upstream: RunningApp, recording: RecordingSink, tmp_path: Path
) -> None:
    directory = policy_dir(tmp_path)
    proxy = await make_proxy(
        {"openai": openai_upstream.url}, policy={"dir": str(directory), "reload_interval_seconds": 0.05}
    )
    store = proxy.runtime.policies
    assert store is not None
    assert (await chat(proxy, {})).startswith("Hi, you're speaking with an AI assistant.")

    pack = load_pack("eu-ai-act-art50.yaml")
    pack["version"] = "1.1.0"
    texts = rule(pack, "EUAI-50.1-DISCLOSE")["parameters"]["disclosures"]
    texts["en"] = {"id": "VG-AI-DISCLOSURE", "version": "2", "text": "Hello! This is an AI assistant."}
    write_pack(directory, "eu-ai-act-art50.yaml", pack)
    await wait_for(lambda: store.generation == 2)
    assert (await chat(proxy, {})) == "Hello! This is an AI assistant. You said: hi"
    assert [dict(d.evidence)["version"] for d in disclosures(recording)] == ["1", "2"]
    assert [p["pack.eu-ai-act-art50"].split("@")[0] for p in applied(recording)] == ["1.0.0", "1.1.0"]

    (directory / "eu-ai-act-art50.yaml").write_text("rules: [unclosed", encoding="utf-8")
    ready = f"{proxy.url}/_voiceguard/readyz"
    await wait_for_status(ready, 503)
    assert (await chat(proxy, {})).startswith("Hello! This is an AI assistant.")  # the last good set stays
    write_pack(directory, "eu-ai-act-art50.yaml", pack)
    await wait_for_status(ready, 200)
    assert store.generation == 3


async def wait_for(condition: object) -> None:
    """Poll: the watcher swaps the set from its own task, with nothing to await on from outside."""
    assert callable(condition)
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def wait_for_status(url: str, status: int) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(10):
        while True:
            async with session.get(url) as response:
                if response.status == status:
                    return
            await asyncio.sleep(0.02)


def riff_chunks(data: bytes) -> dict[bytes, bytes]:
    chunks = {}
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        chunks[chunk_id] = data[offset + 8 : offset + 8 + size]
        offset += 8 + size + (size % 2)
    return chunks


async def test_wav_speech_is_marked_in_its_info_chunk_and_in_headers(
    proxy: RunningServer, recording: RecordingSink
) -> None:
    async with (
        client_for(proxy) as client,
        client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts",
            voice="alloy",
            input="Hi, I'm an AI assistant.",
            response_format="wav",
        ) as response,
    ):
        audio = await response.read()
        headers = response.headers
    assert headers["X-VoiceGuard-AI-Generated"] == "true"
    assert headers["X-VoiceGuard-Digital-Source-Type"].endswith("/trainedAlgorithmicMedia")
    with wave.open(io.BytesIO(audio)) as reader:
        frames = reader.readframes(reader.getnframes())
    assert frames == speech_for("Hi, I'm an AI assistant.")  # the audio itself is untouched
    info = riff_chunks(audio)[b"LIST"]
    assert info.startswith(b"INFO") and b"ai_generated=true" in info and b"ISFT" in info
    (marked,) = [r.decision for r in recording.of(DecisionMade) if r.decision.rule_id == "EUAI-50.2-MARK"]
    assert (marked.outcome, dict(marked.evidence)["method"]) == ("marked", "headers;metadata:wav,mp3,flac")


async def test_mp3_speech_carries_an_id3_marking_a_tag_reader_understands(proxy: RunningServer) -> None:
    async with client_for(proxy) as client:
        response = await client.audio.speech.create(
            model="gpt-4o-mini-tts", voice="alloy", input="Hi, I'm an AI assistant.", response_format="mp3"
        )
    parsed = mutagen.mp3.MP3(io.BytesIO(response.content))
    assert parsed.tags is not None
    fields = {frame.desc: frame.text[0] for frame in parsed.tags.getall("TXXX")}
    assert fields["AI_GENERATED"] == "true"
    assert fields["POLICY"] == "EUAI-50.2-MARK"
    assert parsed.info.length > 1.0  # the MPEG frames still decode after the tag
