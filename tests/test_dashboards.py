"""The checked-in Grafana dashboards are what ``dashboards/build.py`` generates, and every metric a panel
queries is one voiceguard really exports."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from dashboards import build
from tests.conftest import ProxyFactory
from tests.test_tracing import ReportsPii, cascade_call
from voiceguard.events import (
    AudioChunk,
    Direction,
    Event,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    Stage,
    Usage,
)
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.server import RunningServer
from voiceguard.session import CallContext
from voiceguard.simulator import RunningApp

_METRIC = re.compile(r"\b(?:voiceguard|gen_ai)_[a-zA-Z0-9_]+")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"\{([^}]*)\}")
_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def metrics_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """The metric names a PromQL expression reads, and the label names it groups or filters by."""
    labels = {
        label.strip() for group in _GROUPING.findall(expr) for label in group.split(",") if label.strip()
    }
    labels |= {label for selector in _SELECTOR.findall(expr) for label in _LABEL.findall(selector)}
    bare = _SELECTOR.sub("", _GROUPING.sub("", expr))
    return set(_METRIC.findall(bare)), labels - {"le"}


def exposition(text: str) -> dict[str, set[str]]:
    """Sample name → label names, from Prometheus text."""
    samples: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        labels = set(_LABEL.findall(rest.rsplit("}", 1)[0])) if rest else set()
        samples.setdefault(name.split(" ")[0], set()).update(labels)
    return samples


def test_checked_in_dashboards_are_the_generated_ones() -> None:
    for name, text in build.rendered().items():
        path = build.HERE / name
        assert path.read_text(encoding="utf-8") == text, f"{name} is stale: run python -m dashboards.build"


def dashboard_queries() -> Iterator[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) for every Prometheus target."""
    for name in build.DASHBOARDS:
        dashboard = json.loads((build.HERE / name).read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("type") == "prometheus":
                    yield name, panel["title"], target["expr"]


def test_every_panel_has_a_query_against_a_provisioned_data_source() -> None:
    uids = {"voiceguard-prometheus", "voiceguard-tempo"}
    for name in build.DASHBOARDS:
        dashboard = json.loads((build.HERE / name).read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            if panel["type"] == "row":
                continue
            assert panel.get("targets"), f"{name}: {panel['title']} has no query"
            assert {t["datasource"]["uid"] for t in panel["targets"]} <= uids


@pytest.fixture
def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def realtime_turn_with_barge_in(proxy: RunningServer) -> None:
    """A realtime call through the proxy's own pipeline, with the events a realtime adapter reports."""
    pipeline = proxy.runtime.pipeline
    info = ExchangeInfo("openai", "realtime", Stage.REALTIME)
    exchange = pipeline.open_exchange(
        CallContext(), route="openai", info=info, transport="websocket", method="GET", path="/v1/realtime"
    )
    assert exchange is not None
    pipeline.request_sent(exchange)

    def feed(direction: Direction, *events: Event) -> None:
        pipeline.process(exchange, list(events), direction)
        time.sleep(0.002)

    feed(Direction.TO_UPSTREAM, AudioChunk(Direction.TO_UPSTREAM, 4800, 0.1))
    feed(Direction.TO_CLIENT, SpeechStarted(audio_s=0.0))
    feed(Direction.TO_UPSTREAM, AudioChunk(Direction.TO_UPSTREAM, 4800, 0.1))
    feed(Direction.TO_CLIENT, SpeechStopped(audio_s=0.2), ResponseStarted("r1", "gpt-realtime"))
    feed(Direction.TO_CLIENT, AudioChunk(Direction.TO_CLIENT, 48_000, 1.0))
    feed(Direction.TO_CLIENT, SpeechStarted())
    feed(Direction.TO_CLIENT, AudioChunk(Direction.TO_CLIENT, 4800, 0.1))
    feed(Direction.TO_CLIENT, Usage("gpt-realtime", 10, 10, 5, 5), ResponseDone("r1", "cancelled"))
    pipeline.finish_exchange(exchange, status=101)


async def test_every_metric_a_panel_queries_is_exported_after_a_traffic_run(
    make_proxy: ProxyFactory,
    openai_upstream: RunningApp,
    refused_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a collector that refuses: spans are lost and counted, which the compliance dashboard shows
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{refused_port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    proxy = await make_proxy(
        {"openai": openai_upstream.url, "down": f"http://127.0.0.1:{refused_port}"},
        telemetry={"span_export_delay_s": 0.05, "shutdown_timeout_s": 1},
    )
    proxy.runtime.pipeline.chain.guards = (ReportsPii(),)  # type: ignore[misc]
    await cascade_call(proxy, {"X-VoiceGuard-Call-Id": "call-dashboards"})
    realtime_turn_with_barge_in(proxy)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{proxy.url}/down/anything") as response:
            assert response.status == 502
        proxy.runtime.pipeline.calls.end_all()  # the named call ends: its turn's histograms are recorded
        exported: dict[str, set[str]] = {}
        for _ in range(50):
            async with session.get(f"{proxy.url}/_voiceguard/metrics") as response:
                exported = exposition(await response.text())
            if "voiceguard_telemetry_dropped_total" in exported:
                break
            await asyncio.sleep(0.1)

    checked = 0
    for name, title, expr in dashboard_queries():
        metrics, labels = metrics_and_labels(expr)
        assert metrics, f"{name}: {title}: no voiceguard metric in {expr}"
        for metric in metrics:
            assert metric in exported, f"{name}: {title}: {metric} is not exported"
            checked += 1
        known = set().union(*(exported[metric] for metric in metrics))
        assert labels <= known, f"{name}: {title}: labels {labels - known} not on {metrics}"
    assert checked >= 20
