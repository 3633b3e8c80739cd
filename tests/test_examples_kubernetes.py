"""The Kubernetes manifests fit voiceguard: no cluster is available here, so what can be checked is that every
manifest parses with the fields its kind needs, and that what they name (ports, probe paths, environment
variables, the config file, the hashing key) is what voiceguard actually has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.conftest import ProxyFactory
from voiceguard.config import AuditConfig, ConsentConfig, load_settings
from voiceguard.correlation import CALL_ID_HEADER, CALL_ID_PARAM
from voiceguard.keys import MASTER_KEY_ENV

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "examples" / "kubernetes"
REQUIRED = {
    "ConfigMap": ("data",),
    "Secret": (),
    "Deployment": ("spec",),
    "StatefulSet": ("spec",),
    "Service": ("spec",),
    "Ingress": ("spec",),
    "PodDisruptionBudget": ("spec",),
}


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)
    return docs


def one(kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def container() -> dict[str, Any]:
    [found] = one("Deployment", "voiceguard")["spec"]["template"]["spec"]["containers"]
    return found  # type: ignore[no-any-return]


def settings(tmp_path: Path) -> Any:
    config = tmp_path / "voiceguard.yaml"
    config.write_text(one("ConfigMap", "voiceguard-config")["data"]["voiceguard.yaml"], encoding="utf-8")
    return load_settings(config, env={})


def test_every_manifest_parses_with_the_fields_of_its_kind() -> None:
    docs = manifests()
    assert {doc["kind"] for doc in docs} == set(REQUIRED)
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"], doc
        for field in REQUIRED[doc["kind"]]:
            assert field in doc, f"{doc['kind']} {doc['metadata']['name']} lacks {field}"
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))["resources"]
    assert all((K8S / name).is_file() for name in listed)


def test_the_config_map_is_a_valid_voiceguard_config_sharing_audit_and_consent(tmp_path: Path) -> None:
    loaded = settings(tmp_path)
    assert loaded.audit.store == "postgres" and loaded.consent.store == "postgres"
    assert loaded.listen.host == "0.0.0.0"
    mounts = {m["name"]: m["mountPath"] for m in container()["volumeMounts"]}
    assert mounts["data"] == str(loaded.data_dir)
    assert mounts["keys"] == f"{loaded.data_dir}/keys"  # the sealed keys where the KeyStore looks
    assert mounts["config"] + "/voiceguard.yaml" == container()["args"][-1]


def test_the_deployment_runs_three_replicas_with_shared_keys_and_dsns_from_secrets(tmp_path: Path) -> None:
    deployment = one("Deployment", "voiceguard")
    assert deployment["spec"]["replicas"] == 3
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    secret = next(
        s for s in manifests() if s["kind"] == "Secret" and s["metadata"]["name"] == "voiceguard-env"
    )
    sources = [source["secretRef"]["name"] for source in container()["envFrom"]]
    assert sources == ["voiceguard-env"]
    wanted = {MASTER_KEY_ENV, AuditConfig().postgres_dsn_env, ConsentConfig().postgres_dsn_env}
    assert wanted <= set(secret["stringData"])
    keys = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "keys")
    assert keys["secret"]["defaultMode"] & 0o077 == 0  # voiceguard refuses key files others can read
    keys_secret = one("Secret", "voiceguard-keys")
    assert set(keys_secret["data"]) == {"subject.key", "ed25519-audit.key"}


async def test_probes_and_ports_are_the_ones_voiceguard_serves(
    make_proxy: ProxyFactory, tmp_path: Path
) -> None:
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports["http"] == settings(tmp_path).listen.port
    probes = [container()[name]["httpGet"] for name in ("readinessProbe", "livenessProbe", "startupProbe")]
    assert [p["path"] for p in probes] == [
        "/_voiceguard/readyz",
        "/_voiceguard/healthz",
        "/_voiceguard/healthz",
    ]
    assert all(p["port"] == "http" for p in probes)
    proxy = await make_proxy({})
    async with aiohttp.ClientSession() as http:
        for probe in probes:
            async with http.get(f"{proxy.url}{probe['path']}") as answer:
                assert answer.status == 200, probe
    service = one("Service", "voiceguard")
    assert service["spec"]["selector"] == one("Deployment", "voiceguard")["spec"]["selector"]["matchLabels"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def test_the_ingress_hashes_on_the_call_id_and_routes_to_the_service() -> None:
    ingress = one("Ingress", "voiceguard")
    key = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/upstream-hash-by"]
    header_variable = "$http_" + CALL_ID_HEADER.lower().replace("-", "_")  # how nginx names a request header
    assert key == f"{header_variable}$arg_{CALL_ID_PARAM}"
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "voiceguard", "port": {"name": "http"}}


def test_postgres_is_where_the_dsns_point() -> None:
    statefulset = one("StatefulSet", "voiceguard-postgres")
    service = one("Service", statefulset["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"  # headless: the StatefulSet's stable name
    assert (
        service["spec"]["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()
    )
    [postgres] = statefulset["spec"]["template"]["spec"]["containers"]
    assert postgres["ports"][0]["containerPort"] == 5432
    credentials = one("Secret", "voiceguard-postgres")["stringData"]
    for dsn in one("Secret", "voiceguard-env")["stringData"].values():
        if dsn.startswith("postgresql://"):
            assert f"@{service['metadata']['name']}:5432/{credentials['POSTGRES_DB']}" in dsn


@pytest.mark.parametrize("needed", ["COPY policies", "USER 10001", "voiceguard.yaml"])
def test_the_image_carries_the_policy_packs_and_runs_unprivileged(needed: str) -> None:
    assert needed in (K8S / "Dockerfile").read_text(encoding="utf-8")
