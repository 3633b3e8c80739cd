"""The peers voiceguard is measured against, each started from a config generated into a temp directory.

- nginx (the Debian package) as a plain reverse proxy: one worker (voiceguard is one process too), a keepalive
  pool to the upstream, WebSocket upgrade headers, no buffering either way, no access log.
- LiteLLM's proxy (``litellm[proxy]``, pinned), installed on first use into its own venv
  (``benchmarks/.venv-litellm``, gitignored) because its pins conflict with voiceguard's. Configured the way a
  user who cares about latency would: one worker, no database, no master key, no spend logs, no callbacks,
  the model cost map read from the package instead of fetched, logging at ERROR.
- rotel, the OTLP collector from voiceguard's dev dependencies, receiving voiceguard's traces and metrics and
  discarding them after decoding (``--exporter blackhole``, no debug printing, so that the collector's own CPU
  use stays what a real one would be, not a pretty-printer's).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.harness import ROOT, free_port, process, stop, wait_http
from tests.nginx import nginx_binary
from tests.otlp_receiver import _wait_listening as wait_listening

LITELLM_VERSION = "1.79.1"
LITELLM_VENV = ROOT / "benchmarks" / ".venv-litellm"
LITELLM_CHAT_MODEL = "gpt-4o-mini"
LITELLM_AUDIO_MODEL = "whisper-1"
LITELLM_REALTIME_MODEL = "bench"
"""The realtime probe asks for ``model=bench``; LiteLLM maps it to ``openai/bench`` at the fake upstream."""

NGINX_CONFIG = """\
worker_processes 1;
worker_rlimit_nofile 16384;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream fake_upstream {{
        server {upstream_host}:{upstream_port};
        keepalive 64;
    }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64m;
        location / {{
            proxy_pass http://fake_upstream;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


def nginx_config(directory: Path, port: int, upstream_host: str, upstream_port: int, root: bool) -> str:
    """nginx.conf for a plain reverse proxy; an empty ``Connection`` header keeps HTTP upstream keepalive."""
    user = "user root;" if root else ""
    return NGINX_CONFIG.format(
        dir=directory, user=user, port=port, upstream_host=upstream_host, upstream_port=upstream_port
    )


@dataclass(frozen=True)
class Running:
    url: str
    pid: int


@contextlib.contextmanager
def nginx(upstream_url: str) -> Iterator[Running]:
    binary = nginx_binary()
    if binary is None:
        raise PeerUnavailable("nginx is not installed (`make services` or `apt-get install nginx-light`)")
    host, _, port_text = upstream_url.removeprefix("http://").partition(":")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vg-bench-nginx-") as tmp:
        directory = Path(tmp)
        config = directory / "nginx.conf"
        config.write_text(nginx_config(directory, port, host, int(port_text), os.geteuid() == 0))
        args = [binary, "-p", str(directory), "-c", str(config), "-g", "daemon off;"]
        # Any path answers (the upstream's /health): nginx is up when it proxies.
        with process(args, f"http://127.0.0.1:{port}/health") as proc:
            yield Running(f"http://127.0.0.1:{port}", proc.pid)


class PeerUnavailable(RuntimeError):
    """A peer that cannot run here; its column then says n/a with this message."""


def litellm_python(install: bool, log: Path | None = None) -> Path:
    """The LiteLLM venv's interpreter, creating the venv first when asked (about two minutes, once)."""
    python = LITELLM_VENV / "bin" / "python"
    check = [
        str(python),
        "-c",
        f"import litellm, importlib.metadata as m; assert m.version('litellm') == '{LITELLM_VERSION}'",
    ]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    if not install:
        raise PeerUnavailable(
            f"litellm {LITELLM_VERSION} is not installed in {LITELLM_VENV} (run without --no-install)"
        )
    print(
        f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (once) ...",
        file=sys.stderr,
        flush=True,
    )
    base = shutil.which("python3") or sys.executable
    out = subprocess.DEVNULL if log is None else log.open("ab")
    try:
        subprocess.run([base, "-m", "venv", str(LITELLM_VENV)], check=True, stdout=out, stderr=out)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        result = subprocess.run([*pip, f"litellm[proxy]=={LITELLM_VERSION}"], stdout=out, stderr=out)
    finally:
        if log is not None and not isinstance(out, int):
            out.close()
    if result.returncode != 0 or subprocess.run(check, capture_output=True).returncode != 0:
        raise PeerUnavailable(f"installing litellm[proxy]=={LITELLM_VERSION} failed")
    return python


def litellm_config(upstream_url: str) -> dict[str, object]:
    """LiteLLM's config.yaml: the OpenAI routes pointed at the fake upstream, latency-adding features off."""
    api = {"api_base": f"{upstream_url}/v1", "api_key": "sk-bench"}
    return {
        "model_list": [
            {
                "model_name": LITELLM_CHAT_MODEL,
                "litellm_params": {"model": f"openai/{LITELLM_CHAT_MODEL}", **api},
            },
            {
                "model_name": LITELLM_AUDIO_MODEL,
                "litellm_params": {"model": f"openai/{LITELLM_AUDIO_MODEL}", **api},
                "model_info": {"mode": "audio_transcription"},
            },
            {
                "model_name": LITELLM_REALTIME_MODEL,
                "litellm_params": {"model": f"openai/{LITELLM_REALTIME_MODEL}", **api},
            },
        ],
        "litellm_settings": {
            "telemetry": False,
            "drop_params": True,
            "success_callback": [],
            "failure_callback": [],
            "callbacks": [],
            "turn_off_message_logging": True,
            "cache": False,
        },
        "general_settings": {
            "disable_spend_logs": True,
            "disable_error_logs": True,
            "disable_adding_master_key_hash_to_db": True,
            "allow_requests_on_db_unavailable": True,
            "background_health_checks": False,
        },
    }


LITELLM_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY": "False",
    "DISABLE_SCHEMA_UPDATE": "True",
    "NO_DOCS": "True",
}
"""Environment for the LiteLLM process: no network fetch at start, quiet logs, no telemetry."""


@contextlib.contextmanager
def litellm(upstream_url: str, install: bool = True) -> Iterator[Running]:
    python = litellm_python(install)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vg-bench-litellm-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(yaml.safe_dump(litellm_config(upstream_url)))
        args = [
            str(python), "-m", "litellm.proxy.proxy_cli",
            "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1",
        ]  # fmt: skip
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "DATABASE_URL"))
        }
        env.update(LITELLM_ENV)
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        try:
            wait_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=120)
            yield Running(f"http://127.0.0.1:{port}", proc.pid)
        finally:
            stop(proc)


@contextlib.contextmanager
def collector() -> Iterator[str]:
    """rotel receiving OTLP/HTTP and dropping what it decoded; yields its endpoint."""
    import rotel

    agent = Path(rotel.__file__).parent / "rotel-agent"
    http_port, grpc_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="vg-bench-otlp-") as tmp:
        args = [
            str(agent), "start",
            "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}",
            "--otlp-http-endpoint", f"127.0.0.1:{http_port}",
            "--exporter", "blackhole",
            "--pid-file", f"{tmp}/rotel.pid", "--log-file", f"{tmp}/rotel.log",
        ]  # fmt: skip
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(http_port, timeout=15)
            yield f"http://127.0.0.1:{http_port}"
        finally:
            stop(proc)
