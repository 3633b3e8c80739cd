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


def test_every_ended_span_is_seen_whatever_exporter_built_it(leak_scan: LeakCollector) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    canary = _canary()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    with provider.get_tracer("probe").start_as_current_span("probe") as span:
        span.set_attribute("probe", canary)
    provider.shutdown()
    assert leak_scan.scan((canary,))


async def test_every_audit_append_is_seen(leak_scan: LeakCollector, tmp_path: Path) -> None:
    from voiceguard.audit.record import make_entry
    from voiceguard.audit.sqlite import SqliteStore

    canary = _canary()
    store = SqliteStore(tmp_path / "audit.sqlite3")
    await store.open()
    try:
        entry = make_entry("probe.seen", {"detail": canary}, time_us=1, call_id=None, source="test")
        await store.append([entry], None, None, 1)
    finally:
        await store.close()
    assert leak_scan.scan((canary,))


def test_stores_and_data_directories_left_at_rest_are_read(tmp_path: Path) -> None:
    from tests.leakscan import _at_rest, scan_at_rest

    canary = _canary()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "vault.bin").write_bytes(b"\x00" + canary.encode() + b"\x00")
    (tmp_path / "consent.sqlite3").write_bytes(b"SQLite format 3\x00" + canary.encode())
    (tmp_path / "input.json").write_text(canary)  # a test's own input is not something voiceguard wrote
    findings = scan_at_rest(_at_rest(tmp_path, tmp_path / "leakscan"), (canary,))
    assert len(findings) == 2
