"""Export: OTLP over HTTP and gRPC to a real receiver, a local JSON-lines file, and collectors that refuse or
never answer (traffic goes on, lost spans are counted)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ProxyFactory
from tests.engines import shared_engine
from tests.otlp_receiver import otlp_receiver
from tests.test_tracing import ReportsPii, cascade_call
from voiceguard import server
from voiceguard.simulator import RunningApp
from voiceguard.telemetry.export import ExportConfigError, otlp_target
from voiceguard.testing import settings_for

STAGE_SPANS = {
    "voice.call",
    "voice.turn",
    "stt gpt-4o-mini-transcribe",
    "chat gpt-4o-mini",
    "tts gpt-4o-mini-tts",
}


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
async def test_spans_and_metrics_reach_a_real_otlp_receiver(
    protocol: str, tmp_path: Path, openai_upstream: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    with otlp_receiver(tmp_path) as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint(protocol))
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "voiceguard-otlp-test")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
        settings = settings_for({"openai": openai_upstream.url}, tmp_path / "data")
        proxy = await server.start(settings, guards=[ReportsPii()], pii_engine=shared_engine(settings))
        await cascade_call(proxy, {"X-VoiceGuard-Call-Id": "call-otlp-" + protocol.replace("/", "-")})
        await proxy.close()  # ends the call and flushes both signals
        spans = await asyncio.to_thread(receiver.wait_for, STAGE_SPANS)
        has_metric = await asyncio.to_thread(receiver.wait_for_text, "voiceguard.turn.voice_to_voice_latency")
        text = receiver.text()

    by_name = {span.name: span for span in spans}
    assert set(by_name) >= STAGE_SPANS
    assert len({by_name[name].trace_id for name in STAGE_SPANS}) == 1
    call, turn, chat = by_name["voice.call"], by_name["voice.turn"], by_name["chat gpt-4o-mini"]
    assert call.parent_id == ""
    assert turn.parent_id == call.span_id
    assert chat.parent_id == turn.span_id
    assert chat.attributes["gen_ai.request.model"] == "Str(gpt-4o-mini)"
    assert chat.attributes["gen_ai.usage.input_tokens"] == "Int(12)"
    assert chat.events == ["voiceguard.policy.decision"]
    assert turn.attributes["voiceguard.turn.mode"] == "Str(cascade)"
    assert "service.name: Str(voiceguard-otlp-test)" in text
    assert "deployment.environment: Str(test)" in text
    assert has_metric


def unresponsive_collector() -> Iterator[int]:
    """A port that accepts connections and never reads or answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def refusing_collector() -> Iterator[int]:
    """A port nothing listens on: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port


@pytest.fixture(params=["never_answers", "refuses"])
def dead_collector(request: pytest.FixtureRequest) -> Iterator[int]:
    factory = unresponsive_collector if request.param == "never_answers" else refusing_collector
    yield from factory()


def dropped_spans(metrics_text: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("voiceguard_telemetry_dropped_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
async def test_a_dead_collector_neither_fails_nor_holds_traffic_and_lost_spans_are_counted(
    protocol: str,
    dead_collector: int,
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{dead_collector}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    proxy = await make_proxy(
        {"openai": openai_upstream.url},
        telemetry={
            "span_queue_size": 16,
            "span_batch_size": 4,
            "span_export_delay_s": 0.05,
            "shutdown_timeout_s": 1,
        },
    )
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(40):  # every unnamed request is a call: 3 spans each, far beyond the queue
            async with session.post(
                f"{proxy.url}/openai/v1/chat/completions",
                json=body,
                headers={"Authorization": "Bearer sk-test"},
            ) as response:
                statuses.append(response.status)
                await response.read()
        assert statuses == [200] * 40
        dropped = 0.0
        for _ in range(100):
            async with session.get(f"{proxy.url}/_voiceguard/metrics") as response:
                dropped = dropped_spans(await response.text())
            if dropped:
                break
            await asyncio.sleep(0.1)
    assert dropped > 0


async def test_spans_go_to_a_local_json_lines_file_when_configured(
    make_proxy: ProxyFactory, openai_upstream: RunningApp, tmp_path: Path
) -> None:
    trace_file = tmp_path / "traces" / "spans.jsonl"
    proxy = await make_proxy({"openai": openai_upstream.url}, telemetry={"trace_file": str(trace_file)})
    await cascade_call(proxy, {"X-VoiceGuard-Call-Id": "call-file"})
    await proxy.close()
    spans = [json.loads(line) for line in trace_file.read_text().splitlines()]
    assert {span["name"] for span in spans} >= STAGE_SPANS
    assert len({span["context"]["trace_id"] for span in spans}) == 1


def test_otlp_targets_follow_the_standard_environment_variables() -> None:
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    target = otlp_target(base, "traces")
    assert target is not None and target.endpoint == "http://collector:4318/v1/traces"
    assert target.protocol == "http/protobuf" and target.timeout_s == 10.0
    grpc = otlp_target(
        {**base, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, "metrics"
    )
    assert grpc is not None and grpc.endpoint == "http://collector:4318" and grpc.timeout_s == 2.5
    specific = otlp_target(
        {
            **base,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/v1/traces",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-api-key=abc%3D,tenant=t1",
        },
        "traces",
    )
    assert specific is not None and specific.endpoint == "https://traces.example/v1/traces"
    assert specific.headers == {"x-api-key": "abc=", "tenant": "t1"}
    assert otlp_target({}, "traces") is None
    assert otlp_target({**base, "OTEL_SDK_DISABLED": "true"}, "traces") is None
    assert otlp_target({**base, "OTEL_TRACES_EXPORTER": "none"}, "traces") is None
    with pytest.raises(ExportConfigError, match="http/json"):
        otlp_target({**base, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "traces")
