"""Exports as an auditor and a SIEM get them: by call and by time, in every format, verifiable offline."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.audit.helpers import CARD, CardRedactor, chat, of_kind, sqlite_records
from tests.conftest import ProxyFactory
from tests.engines import shared_engine
from voiceguard import cli, server
from voiceguard.audit.chain import CheckpointSigner, checkpoint_message
from voiceguard.audit.export import Export
from voiceguard.audit.formats import JsonLines
from voiceguard.audit.record import RecordFilter, make_entry
from voiceguard.audit.sqlite import SqliteStore
from voiceguard.keys import KeyStore
from voiceguard.simulator import RunningApp
from voiceguard.testing import settings_for

CALLS = ("call-a", "call-b", "call-c")


@pytest.fixture
async def log_config(tmp_path: Path, openai_upstream: RunningApp) -> Path:
    """A log written by a live voiceguard: three interleaved calls, decisions, a consent change."""
    settings = settings_for(
        {"openai": openai_upstream.url}, tmp_path / "data", audit={"checkpoint_every_records": 4}
    )
    running = await server.start(settings, guards=[CardRedactor()], pii_engine=shared_engine(settings))
    async with aiohttp.ClientSession() as client:
        for _ in range(3):
            for call in CALLS:
                content = f"card {CARD}" if call == "call-b" else "hello"
                assert await chat(client, running.url, call, content=content, subject=f"{call}-caller") == 200
    await running.runtime.audit.append(
        "consent.granted", {"purpose": "voiceprint"}, subject="call-b-caller", call_id="call-b"
    )
    await running.close()
    path = tmp_path / "voiceguard.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    return path


def export(config: Path, out: Path, *args: str) -> Path:
    assert cli.main(["audit", "export", "--config", str(config), "--output", str(out), *args]) == 0
    return out


def verify_export(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> tuple[int, str]:
    code = cli.main(["audit", "verify", "--export", str(path), *args])
    return code, capsys.readouterr().out


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "ocsf", "html"])
def test_a_call_export_in_every_format_verifies_offline(
    fmt: str, log_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export(log_config, tmp_path / f"call-b.{fmt}", "--format", fmt, "--call", "call-b")
    public = CheckpointSigner(KeyStore(tmp_path / "data", env={}).signing_key("audit")).public
    code, out = verify_export(capsys, path, "--public-key", public.to_json()["public_key"])
    assert code == 0, out
    expected = len(
        [r for r in sqlite_records(tmp_path / "data" / "audit.sqlite3") if r.get("call") == "call-b"]
    )
    assert f"records   {expected} checked" in out


def test_a_call_export_holds_that_call_only_and_other_records_as_hashes(
    log_config: Path, tmp_path: Path
) -> None:
    lines = jsonl(export(log_config, tmp_path / "b.jsonl", "--call", "call-b"))
    header, body = lines[0], lines[1:]
    assert header["filter"] == {"call": "call-b"} and header["public_keys"][0]["algorithm"] == "ed25519"
    records = [line["record"] for line in body if "record" in line]
    assert records and {record["call"] for record in records} == {"call-b"}
    assert {record["kind"] for record in records} >= {
        "call.started",
        "request",
        "decision",
        "consent.granted",
    }
    assert any("leaves" in line for line in body) and any("checkpoint" in line for line in body)
    text = (tmp_path / "b.jsonl").read_text()
    assert "call-a" not in text and "call-c" not in text


def test_a_time_range_export_holds_the_records_of_that_range(log_config: Path, tmp_path: Path) -> None:
    times = [record["time"] for record in sqlite_records(tmp_path / "data" / "audit.sqlite3")]
    since, until = times[5], times[12]
    lines = jsonl(export(log_config, tmp_path / "range.jsonl", "--since", since, "--until", until))
    exported = [line["record"]["time"] for line in lines if "record" in line]
    assert exported and all(since <= moment < until for moment in exported)
    assert len(exported) == len([moment for moment in times if since <= moment < until])


def test_a_changed_record_in_an_export_is_named(
    log_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export(log_config, tmp_path / "b.jsonl", "--call", "call-b")
    lines = jsonl(path)
    target = next(line for line in lines if line.get("record", {}).get("kind") == "decision")
    target["record"]["data"]["outcome"] = "allowed"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out = verify_export(capsys, path)
    assert code == 1
    assert f"FAILED at record #{target['record']['seq']}" in out


def test_an_export_resigned_with_another_key_fails_against_the_published_key(
    log_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export(log_config, tmp_path / "b.jsonl", "--call", "call-b")
    forger = CheckpointSigner(KeyStore(tmp_path / "forger", env={}).signing_key("audit"))
    lines = jsonl(path)
    lines[0]["public_keys"] = [forger.public.to_json()]
    for line in lines:
        if "checkpoint" in line:
            cp = line["checkpoint"]
            message = checkpoint_message(
                cp["origin"], cp["size"], cp["head"], cp["time_us"], cp["previous_signature"]
            )
            cp["signature"] = base64.b64encode(forger._key.sign(message)).decode()
            cp["key_id"] = forger.public.key_id
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out = verify_export(capsys, path)
    assert code == 0 and "keys taken from the export itself" in out and forger.public.fingerprint in out
    genuine = CheckpointSigner(KeyStore(tmp_path / "data", env={}).signing_key("audit")).public
    code, out = verify_export(capsys, path, "--public-key", genuine.to_json()["public_key"])
    assert code == 1 and "not a trusted key" in out


def test_ocsf_events_use_the_class_of_each_record_kind(log_config: Path, tmp_path: Path) -> None:
    events = jsonl(export(log_config, tmp_path / "all.ocsf", "--format", "ocsf"))
    by_kind: dict[str, dict[str, Any]] = {}
    for event in events:
        native = event["unmapped"]["voiceguard"]
        assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
        assert (
            event["metadata"]["version"] == "1.7.0" and event["metadata"]["product"]["name"] == "voiceguard"
        )
        if "record" in native:
            by_kind.setdefault(native["record"]["kind"], event)
    request = by_kind["request"]
    assert request["class_uid"] == 6003 and request["category_uid"] == 6 and request["activity_id"] == 1
    assert (
        request["api"]["operation"] == "chat" and request["src_endpoint"] and request["actor"]["user"]["uid"]
    )
    assert request["http_response"]["code"] == 200 and request["status_id"] == 1
    decision = by_kind["decision"]
    assert decision["class_uid"] == 2006 and decision["finding_info"]["uid"]
    assert decision["data_security"]["detection_pattern"] == "CREDIT_CARD"
    consent = by_kind["consent.granted"]
    assert consent["class_uid"] == 3001 and consent["activity_id"] == 7 and consent["user"]["uid"]
    started = by_kind["audit.logging_started"]
    assert started["class_uid"] == 1008 and started["activity_id"] == 3


def test_a_compliance_decision_maps_to_compliance_finding_with_its_standard() -> None:
    from voiceguard.audit.ocsf import to_ocsf

    record = {"kind": "decision", "seq": 1, "time": "2026-11-23T10:00:00.000000Z", "call": "c"}
    record["data"] = {
        "rule": "EUAI-50.1-DISCLOSE",
        "action": "inject",
        "outcome": "injected",
        "exchange": "x",
    }
    event = to_ocsf({"record": record, "prev": "0" * 64, "hash": "ab" * 32})
    assert event["class_uid"] == 2003 and event["compliance"]["standards"] == ["EU AI Act"]
    assert event["compliance"]["control"] == "EUAI-50.1-DISCLOSE" and event["compliance"]["status_id"] == 1
    record["data"] = {"rule": "BIPA-15b-CONSENT", "action": "block", "outcome": "blocked", "exchange": "x"}
    blocked = to_ocsf({"record": record, "prev": "0" * 64, "hash": "ab" * 32})
    assert blocked["compliance"]["status_id"] == 3 and blocked["compliance"]["standards"][0].startswith(
        "Illinois"
    )


def test_a_pii_decision_filed_under_a_pack_rule_is_a_data_security_finding() -> None:
    from voiceguard.audit.ocsf import to_ocsf

    record = {"kind": "decision", "seq": 1, "time": "2026-11-23T10:00:00.000000Z", "call": "c"}
    record["data"] = {
        "rule": "PCI-3.4.1",
        "action": "observe",
        "outcome": "detected",
        "counts": {"CREDIT_CARD": 1},
        "evidence": {"control": "pii", "flow": "speech"},
        "exchange": "x",
    }
    event = to_ocsf({"record": record, "prev": "0" * 64, "hash": "ab" * 32})
    assert event["class_uid"] == 2006 and event["data_security"]["policy"]["name"] == "PCI-3.4.1"
    assert event["data_security"]["detection_pattern"] == "CREDIT_CARD"


async def test_hostile_values_are_escaped_in_csv_and_html_and_still_verify(
    tmp_path: Path, make_proxy: ProxyFactory, openai_upstream: RunningApp, capsys: pytest.CaptureFixture[str]
) -> None:
    formula = "@evil-call"  # a valid call id that a spreadsheet would run as a formula
    proxy = await make_proxy({"openai": openai_upstream.url})
    async with aiohttp.ClientSession() as client:
        assert await chat(client, proxy.url, formula) == 200
    await proxy.runtime.audit.append(
        "consent.granted", {"notice": "<script>alert(1)</script>"}, call_id=formula
    )
    await proxy.close()
    config = tmp_path / "voiceguard.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))

    def export_and_verify(fmt: str) -> Path:
        path = tmp_path / f"hostile.{fmt}"
        assert (
            cli.main(["audit", "export", "--config", str(config), "--format", fmt, "--output", str(path)])
            == 0
        )
        code = cli.main(["audit", "verify", "--export", str(path)])
        assert code == 0, capsys.readouterr().out
        return path

    html = (await asyncio.to_thread(export_and_verify, "html")).read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    csv_path = await asyncio.to_thread(export_and_verify, "csv")
    with csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    calls = [row["call"] for row in rows if row["kind"] == "request"]
    assert calls == ["'" + formula]


async def test_the_admin_api_streams_an_export_behind_the_token_and_records_it(
    tmp_path: Path, make_proxy: ProxyFactory, openai_upstream: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEGUARD_ADMIN_TOKEN", "s3cret-token")
    proxy = await make_proxy({"openai": openai_upstream.url})
    url = f"{proxy.url}/_voiceguard/audit/export"
    async with aiohttp.ClientSession() as client:
        assert await chat(client, proxy.url, "call-x") == 200
        async with client.get(url) as response:
            assert response.status == 401
        bearer = {"Authorization": "Bearer s3cret-token"}
        async with client.get(url, params={"format": "xml"}, headers=bearer) as response:
            assert response.status == 400
        async with client.get(url, params={"call": "call-x", "format": "html"}, headers=bearer) as response:
            assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
            (tmp_path / "x.html").write_bytes(await response.read())
    await proxy.close()
    code = await asyncio.to_thread(cli.main, ["audit", "verify", "--export", str(tmp_path / "x.html")])
    assert code == 0
    records = sqlite_records(tmp_path / "data" / "audit.sqlite3")
    (exported,) = of_kind(records, "audit.exported")
    before_export = records[: records.index(exported)]
    of_call = [record for record in before_export if record.get("call") == "call-x"]
    assert len(of_call) >= 2  # the request and at least the policy decisions of that call
    assert exported["data"] == {
        "format": "html",
        "filter": {"call": "call-x"},
        "records": len(of_call),
        "via": "admin_api",
    }


async def test_a_large_export_streams_in_bounded_memory(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "big.sqlite3")
    signer = CheckpointSigner(KeyStore(tmp_path / "data", env={}).signing_key("audit"))
    await store.open()
    filler = "x" * 1000
    for batch in range(8):
        entries = [
            make_entry("request", {"n": n, "pad": filler}, time_us=n, call_id=f"c{n % 7}", source="t")
            for n in range(batch * 1000, (batch + 1) * 1000)
        ]
        await store.append(entries, signer, 1000, batch)
    written = 0
    tracemalloc.start()
    try:
        run = Export(store, RecordFilter(), [signer.public], JsonLines(), now_us=1)
        async for chunk in run.chunks():
            written += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await store.close()
    assert run.report is not None and run.report.ok and run.records == 8_000
    assert written > 8_000_000
    assert peak < written / 4, f"export held {peak} bytes for {written} bytes of output"


def test_records_after_the_last_checkpoint_are_left_out_unless_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = CheckpointSigner(KeyStore(tmp_path / "data", env={}).signing_key("audit"))

    async def build() -> None:
        store = SqliteStore(tmp_path / "data" / "audit.sqlite3")
        await store.open()
        entries = [make_entry("request", {"n": n}, time_us=n, call_id="c", source="t") for n in range(1, 24)]
        await store.append(entries[:20], signer, 10, 1)
        await store.append(entries[20:], signer, 10, 2)
        await store.close()

    asyncio.run(build())
    config = tmp_path / "voiceguard.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    signed = export(config, tmp_path / "signed.jsonl", "--no-seal")
    assert jsonl(signed)[0]["through_seq"] == 20
    assert [line["record"]["seq"] for line in jsonl(signed) if "record" in line][-1] == 20
    assert verify_export(capsys, signed)[0] == 0
    everything = export(config, tmp_path / "all.jsonl", "--no-seal", "--include-unsigned")
    code, out = verify_export(capsys, everything)
    assert code == 1 and "the last 3 record(s) of the export are not covered by a signed checkpoint" in out
    assert verify_export(capsys, everything, "--allow-unsigned-tail")[0] == 0
