"""PII modes come from the policy packs in force for each call, with the operator's ``pii.modes`` on top.

Through the proxy with the openai SDK (chat to the simulated OpenAI) and the deepgram-sdk (a transcript
from the simulated Deepgram): the shipped packs give DESIGN.md's defaults (payment and national numbers
pseudonymized before the LLM, restored for the client) plus PCI's security-code redaction in transcripts;
decisions name the rule and the packs' hashes; an edited pack reaches new calls, not running ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import ProxyFactory
from tests.policy_dirs import load_pack, policy_dir, rule, write_pack
from tests.test_deepgram_sdk_dropin import deepgram_client
from tests.test_policy_proxy import wait_for
from voiceguard.events import PolicyDecision
from voiceguard.records import DecisionMade
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend
from voiceguard.testing import RecordingSink

CARD = "4111 1111 1111 1111"
OBSERVE_DISCLOSURE = {"EUAI-50.1-DISCLOSE": "observe", "EUAI-50.1-ASKED": "observe"}


async def chat(proxy: RunningServer, text: str, call: str) -> str:
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0
    ) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": text}],
            extra_headers={"X-VoiceGuard-Call-Id": call},
        )
    return completion.choices[0].message.content or ""


def vendor_saw(backend: Backend) -> str:
    return backend.received[-1].body.decode()


def pii_decisions(recording: RecordingSink, action: str) -> list[PolicyDecision]:
    return [
        record.decision
        for record in recording.of(DecisionMade)
        if record.decision.action == action and ("flow", "llm") in record.decision.evidence
    ]


async def packs_proxy(
    make_proxy: ProxyFactory, upstreams: dict[str, str], base: Path, **overrides: Any
) -> tuple[RunningServer, Path]:
    directory = policy_dir(base, OBSERVE_DISCLOSURE)
    policy = {"dir": str(directory), "reload_interval_seconds": 0.05}
    return await make_proxy(upstreams, policy=policy, **overrides), directory


async def test_the_shipped_packs_pseudonymize_a_card_for_the_vendor_and_name_their_hashes(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    proxy, _ = await packs_proxy(make_proxy, {"openai": openai_upstream.url}, tmp_path)
    reply = await chat(proxy, f"my card is {CARD}, I'm Jane Doe", "call-packs")
    assert "<CREDIT_CARD_1>" in vendor_saw(backend) and "4111" not in vendor_saw(backend)
    assert "Jane Doe" in vendor_saw(backend)  # names are observed, not changed, in flight
    assert CARD in reply  # restored for the client
    [card] = [d for d in pii_decisions(recording, "pseudonymize") if ("CREDIT_CARD", 1) in d.counts]
    assert card.rule_id == "PCI-3.4.1"  # the most specific rule stating the winning mode
    evidence = dict(card.evidence)
    version, sha256 = evidence["pack.pci-dss"].split("@")
    assert version == "1.0.0" and len(sha256) == 64 and "pack.pii-defaults" in evidence
    assert "pci-dss@1.0.0#" in evidence["policy_version"] and "policy_digest" in evidence
    assert "override" not in evidence
    async with aiohttp.ClientSession() as http, http.get(f"{proxy.url}/_voiceguard/metrics") as got:
        metrics = await got.text()
    counted = [line for line in metrics.splitlines() if line.startswith("voiceguard_pii_entities")]
    assert any('entity_type="CREDIT_CARD"' in line and "pseudonymize" in line for line in counted), counted


async def test_pci_redacts_a_security_code_from_a_transcript_the_client_receives(
    make_proxy: ProxyFactory, deepgram_upstream: RunningApp, backend: Backend, tmp_path: Path
) -> None:
    proxy, _ = await packs_proxy(make_proxy, {"deepgram": deepgram_upstream.url}, tmp_path)
    backend.script(["the security code is 123"])
    async with deepgram_client(proxy) as client:
        result = await client.listen.v1.media.transcribe_file(request=b"\x00" * 3200, model="nova-3")
    assert result.results.channels[0].alternatives[0].transcript == "the security code is <CVV>"


async def test_the_operators_modes_override_the_packs_and_say_so(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    backend: Backend,
    recording: RecordingSink,
    tmp_path: Path,
) -> None:
    modes = {"llm": {"CREDIT_CARD": "observe", "PERSON": "redact"}}
    proxy, _ = await packs_proxy(make_proxy, {"openai": openai_upstream.url}, tmp_path, pii={"modes": modes})
    await chat(proxy, f"my card is {CARD}, I'm Jane Doe", "call-override")
    assert CARD in vendor_saw(backend) and "<PERSON>" in vendor_saw(backend)
    [observed] = [d for d in pii_decisions(recording, "observe") if ("CREDIT_CARD", 1) in d.counts]
    assert observed.rule_id == "PII" and ("override", "config") in observed.evidence
    assert dict(observed.evidence)["policy_version"].endswith("+config")


async def test_an_edited_pack_reaches_new_calls_while_a_running_call_keeps_its_set(
    make_proxy: ProxyFactory, openai_upstream: RunningApp, backend: Backend, tmp_path: Path
) -> None:
    proxy, directory = await packs_proxy(make_proxy, {"openai": openai_upstream.url}, tmp_path)
    await chat(proxy, "I'm Jane Doe", "call-before")
    assert "Jane Doe" in vendor_saw(backend)

    pack = load_pack("pii-defaults.yaml")
    pack["version"] = "1.1.0"
    rule(pack, "PII-DEFAULTS")["parameters"]["entities"]["PERSON"] = {"llm": "redact", "speech": "observe"}
    write_pack(directory, "pii-defaults.yaml", pack)
    store = proxy.runtime.policies
    assert store is not None
    await wait_for(lambda: store.generation == 2)

    await chat(proxy, "I'm Jane Doe", "call-before")  # the call started under 1.0.0
    assert "Jane Doe" in vendor_saw(backend)
    await chat(proxy, "I'm Jane Doe", "call-after")
    assert "<PERSON>" in vendor_saw(backend) and "Jane" not in vendor_saw(backend)


async def test_a_pack_that_blocks_an_entity_refuses_under_its_rule(
    make_proxy: ProxyFactory, openai_upstream: RunningApp, backend: Backend, tmp_path: Path
) -> None:
    def ssn_blocked(name: str, document: dict[str, Any]) -> None:
        if name == "pii-defaults.yaml":
            rule(document, "PII-DEFAULTS")["parameters"]["entities"]["US_SSN"]["llm"] = "block"

    directory = policy_dir(tmp_path, OBSERVE_DISCLOSURE, edit=ssn_blocked)
    proxy = await make_proxy({"openai": openai_upstream.url}, policy={"dir": str(directory)})
    with pytest.raises(openai.APIStatusError) as refused:
        await chat(proxy, "my social is 123-45-6789", "call-block")
    assert isinstance(refused.value.body, dict) and refused.value.body["policy"] == "PII-DEFAULTS"
    assert backend.received == []
