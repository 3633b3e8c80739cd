"""The docker-compose observability example is consistent: it cannot be started here (no Docker), so what
can be checked without it is: every file parses, every service is health-checked, every file a service
mounts or builds from exists, the pieces point at each other correctly, and the example's own scripts
drive a real call through voiceguard."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from dashboards import build
from tests.conftest import ProxyFactory
from tests.example_modules import load_example
from voiceguard.config import load_settings
from voiceguard.records import TurnFinished
from voiceguard.simulator import start_app
from voiceguard.simulator.backend import Backend
from voiceguard.simulator.openai_api import openai_app
from voiceguard.testing import RecordingSink

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "observability"
SERVICES = {
    "voiceguard",
    "simulated-vendor",
    "traffic",
    "otel-collector",
    "tempo",
    "jaeger",
    "prometheus",
    "grafana",
}


def load_yaml(name: str) -> Any:
    return yaml.safe_load((EXAMPLE / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml("docker-compose.yaml")  # type: ignore[no-any-return]


def test_compose_brings_up_the_whole_stack_and_checks_every_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition["condition"] == "service_healthy"


def test_every_file_a_service_mounts_or_builds_from_exists(compose: dict[str, Any]) -> None:
    named_volumes = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source in named_volumes:
                continue
            assert (EXAMPLE / source).exists(), f"{name} mounts missing {source}"
        if "build" in service:
            context = EXAMPLE / service["build"]["context"]
            assert (context / service["build"]["dockerfile"]).exists(), f"{name}: missing Dockerfile"
    dockerfile = (EXAMPLE / "voiceguard.Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"voiceguard.Dockerfile copies missing {source}"


def test_collector_pipelines_use_defined_components_and_reach_tempo_and_jaeger(
    compose: dict[str, Any],
) -> None:
    config = load_yaml("otel-collector.yaml")
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(kind, [])) <= set(config.get(kind) or {}), pipeline
    assert set(config["service"]["extensions"]) <= set(config["extensions"])
    exported_to = {
        exporter["endpoint"].split(":")[0]
        for exporter in config["exporters"].values()
        if "endpoint" in exporter
    }
    assert {"tempo", "jaeger"} <= exported_to <= set(compose["services"])
    traces = config["service"]["pipelines"]["traces"]["exporters"]
    assert {"otlp/tempo", "otlp/jaeger"} <= set(traces)
    voiceguard_env = compose["services"]["voiceguard"]["environment"]
    assert voiceguard_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")


def test_prometheus_scrapes_voiceguards_metrics_endpoint(compose: dict[str, Any]) -> None:
    config = load_yaml("prometheus.yml")
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/_voiceguard/metrics"
    [target] = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in compose["services"]
    assert f'--port", "{port}' in json.dumps(compose["services"][host]["command"]) or port in str(
        compose["services"][host].get("ports")
    )
    tempo = load_yaml("tempo.yaml")
    assert tempo["storage"]["trace"]["backend"] == "local"
    assert tempo["server"]["http_listen_port"] == 3200


def test_grafana_provisions_the_data_sources_and_the_dashboards_from_the_repository(
    compose: dict[str, Any],
) -> None:
    datasources = load_yaml("grafana/provisioning/datasources/datasources.yaml")["datasources"]
    uids = {source["uid"] for source in datasources}
    used = {
        target["datasource"]["uid"]
        for name in build.DASHBOARDS
        for panel in json.loads((build.HERE / name).read_text())["panels"]
        for target in panel.get("targets", [])
    }
    assert used <= uids
    for source in datasources:
        host = source["url"].split("//")[1].split(":")[0]
        assert host in compose["services"]
    [provider] = load_yaml("grafana/provisioning/dashboards/dashboards.yaml")["providers"]
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["../../dashboards"] == provider["options"]["path"]
    assert (EXAMPLE / "../../dashboards").resolve() == build.HERE


def test_the_examples_voiceguard_config_is_valid() -> None:
    settings = load_settings(
        EXAMPLE / "voiceguard.yaml", env={"VOICEGUARD_UPSTREAM_OPENAI": "http://vendor:9000"}
    )
    assert settings.telemetry.capture_content
    assert settings.routes["openai"].upstream == "http://vendor:9000"


def example_module(name: str) -> ModuleType:
    return load_example(EXAMPLE / f"{name}.py")


async def test_the_traffic_script_drives_calls_through_voiceguard(
    make_proxy: ProxyFactory, recording: RecordingSink
) -> None:
    vendor = example_module("simulated_vendor")
    traffic = example_module("traffic")
    backend = Backend(responder=vendor.reply, api_keys=frozenset({"sk-example"}))
    upstream = await start_app(openai_app(backend))
    try:
        proxy = await make_proxy({"openai": upstream.url})
        [call_id] = await traffic.run(proxy.url, calls=1, pause_s=0, health_file=None, pace=0.01)
        await proxy.close()
    finally:
        await upstream.close()
    turns = [record for record in recording.of(TurnFinished) if record.call.id == call_id]
    assert len(turns) >= 2
    assert all(turn.turn.breakdown_ms()["voice_to_voice"] for turn in turns)
