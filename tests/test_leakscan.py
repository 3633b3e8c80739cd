"""The session's credential scan sees every channel, so its silence at the end of the run means something."""

from __future__ import annotations

import io
import logging
import uuid
from pathlib import Path

import structlog

from tests.leakscan import LeakCollector
from tests.processes import running
from voiceguard.telemetry.logging import configure_logging


def _canary() -> str:
    return f"canary-{uuid.uuid4().hex}"


def test_structlog_lines_are_seen_whatever_stream_a_test_configured(leak_scan: LeakCollector) -> None:
    canary = _canary()
    private = io.StringIO()
    configure_logging("info", "json", stream=private)
    try:
        structlog.get_logger("voiceguard.test").info("probe", detail=canary)
    finally:
        configure_logging("info", "json")
    assert canary in private.getvalue()
    assert leak_scan.scan((canary,))


def test_standard_library_log_records_are_seen(leak_scan: LeakCollector) -> None:
    canary = _canary()
    logging.getLogger("aiohttp.server").warning("probe %s", canary)
    assert leak_scan.scan((canary,))


def test_subprocess_logs_are_seen(leak_scan: LeakCollector, log_dir: Path, tmp_path: Path) -> None:
    canary = _canary()
    config = {"data_dir": str(tmp_path / "data"), "routes": {canary: {"upstream": "http://127.0.0.1:9"}}}
    with running(config, workdir=tmp_path, log_dir=log_dir, name="leakscan-probe"):
        pass
    assert leak_scan.scan((canary,))


def test_a_planted_credential_is_reported_with_its_file(tmp_path: Path) -> None:
    collector = LeakCollector(tmp_path)
    collector.collect("spans", '{"name": "chat", "attributes": {"auth": "Bearer sk-test"}}')
    collector.collect("spans", '{"name": "chat", "attributes": {}}')
    collector.close()
    assert collector.scan() == ["spans.collected:1: 'sk-test'"]
