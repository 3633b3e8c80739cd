"""One scan over everything voiceguard wrote during the whole test run: no test credential, no test PII.

The tests send fake keys (``sk-test`` ...) and personal data (card and phone numbers) through voiceguard all
the time; none of it may reach a log line, a span or an audit record. Rather than trusting each test to look,
this session fixture collects every output channel for the whole run and scans it once at the end:

- structured logs of in-process proxies: every ``structlog.PrintLogger`` line, whatever stream or
  configuration a test chose (the class is wrapped for the session, so reconfiguring cannot bypass it);
- standard-library logging (aiohttp, asyncio, voiceguard's own) through a root handler;
- logs of ``voiceguard serve`` subprocesses: ``tests/processes.py`` writes them under ``log_dir``;
- spans: every OpenTelemetry SDK span that ends in this process, whatever provider or exporter built it
  (the span processor's ``on_end`` is wrapped for the session);
- audit records: every entry appended to an SQLite or PostgreSQL audit store in this process;
- what subprocesses left at rest: at the end, every SQLite store (audit, consent), trace file and data
  directory under the session's temporary tree is read as raw bytes.

A finding fails the run at session teardown, naming the file and the needle (never printing the line).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import structlog

FAKE_CREDENTIALS: Final = ("sk-test", "sk-secret-in-frame", "sk-wrong", "sk-leak-canary")
TEST_PII: Final = (
    "4111 1111 1111 1111",
    "4111111111111111",
    "4111-1111-1111-1111",
    "+13125550100",
    "(312) 555-0100",
    "078-05-1120",
    "jane.canary@example.com",
)
NEEDLES: Final = FAKE_CREDENTIALS + TEST_PII
_PRINT_LOGGER_METHODS: Final = (
    "msg",
    "log",
    "debug",
    "info",
    "warn",
    "warning",
    "fatal",
    "failure",
    "err",
    "error",
    "critical",
    "exception",
)


class LeakCollector:
    """Appends everything it is given to files in ``directory``; ``scan`` reads them all back."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, Any] = {}

    def collect(self, channel: str, text: str) -> None:
        handle = self._files.get(channel)
        if handle is None:
            handle = self._files[channel] = (self.directory / f"{channel}.collected").open(
                "a", encoding="utf-8"
            )
        handle.write(text if text.endswith("\n") else text + "\n")
        handle.flush()

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def scan(self, needles: tuple[str, ...] = NEEDLES) -> list[str]:
        """Where a needle occurs: ``file:line: needle`` for each hit."""
        pattern = re.compile("|".join(re.escape(needle) for needle in needles))
        findings = []
        for path in sorted(self.directory.iterdir()):
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), 1):
                for match in pattern.finditer(line):
                    findings.append(f"{path.name}:{number}: {match.group(0)!r}")
        return findings


class _RootHandler(logging.Handler):
    def __init__(self, collector: LeakCollector) -> None:
        super().__init__(logging.DEBUG)
        self._collector = collector
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._collector.collect("stdlib-logging", self.format(record))
        except Exception:
            self.handleError(record)


def _tee_spans(collector: LeakCollector, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every finished span reaches the provider's span processor, whether the SDK's ``Span.end`` handed it
    over or the tracing sink built it directly."""
    from opentelemetry.sdk.trace import ReadableSpan, SynchronousMultiSpanProcessor

    original = SynchronousMultiSpanProcessor.on_end

    def on_end(self: SynchronousMultiSpanProcessor, span: ReadableSpan) -> None:
        original(self, span)
        collector.collect("spans", span.to_json(indent=None))

    monkeypatch.setattr(SynchronousMultiSpanProcessor, "on_end", on_end)


def _tee_audit(collector: LeakCollector, monkeypatch: pytest.MonkeyPatch) -> None:
    from voiceguard.audit.postgres import PostgresStore
    from voiceguard.audit.sqlite import SqliteStore

    for store in (SqliteStore, PostgresStore):
        original = store.append

        def append(self: Any, entries: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            for entry in entries:
                collector.collect("audit", entry.body(0))
            return _original(self, entries, *args, **kwargs)

        monkeypatch.setattr(store, "append", append)


LOG_DIR_ENV: Final = "VOICEGUARD_TEST_LOG_DIR"
"""Set for the session: where any helper that starts a process puts its output (``output_file``)."""


def output_file(name: str) -> Path:
    """A fresh file in the session's scanned log directory, for a subprocess's stdout and stderr."""
    directory = Path(os.environ[LOG_DIR_ENV])
    return directory / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"


def keep_output(name: str, output: str | bytes) -> None:
    """Hand output a test already read from a pipe to the session's scan."""
    data = output.encode() if isinstance(output, str) else output
    output_file(name).write_bytes(data)


AT_REST_SUFFIXES: Final = (".sqlite3", ".sqlite3-wal", ".sqlite3-journal", ".db", ".db-wal")


def _at_rest(basetemp: Path, skip: Path) -> list[Path]:
    """Stores, trace files and data directories that processes left under the session's temporary tree."""
    found = []
    for path in basetemp.rglob("*"):
        if not path.is_file() or skip in path.parents:
            continue
        name = path.name
        in_data_dir = any(parent.name in ("data", "voiceguard-data") for parent in path.parents)
        trace_output = ("span" in name and name.endswith(".jsonl")) or name == "rotel.out"
        if in_data_dir or name.endswith(AT_REST_SUFFIXES) or trace_output:
            found.append(path)
    return found


def scan_at_rest(paths: list[Path], needles: tuple[str, ...] = NEEDLES) -> list[str]:
    findings = []
    encoded = [needle.encode() for needle in needles]
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        findings.extend(f"{path}: {needle!r}" for needle in encoded if needle in data)
    return findings


def _tee_print_logger(collector: LeakCollector, monkeypatch: pytest.MonkeyPatch) -> None:
    original: Callable[..., None] = structlog.PrintLogger.msg

    def msg(self: structlog.PrintLogger, message: str) -> None:
        collector.collect("structlog", str(message))
        original(self, message)

    for name in _PRINT_LOGGER_METHODS:
        monkeypatch.setattr(structlog.PrintLogger, name, msg)


@pytest.fixture(scope="session", autouse=True)
def leak_scan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeakCollector]:
    """Collect every log line, span and audit record of the run; fail the run if one holds a needle."""
    directory = tmp_path_factory.mktemp("leakscan")
    os.environ[LOG_DIR_ENV] = str(directory)
    collector = LeakCollector(directory)
    handler = _RootHandler(collector)
    root = logging.getLogger()
    root.addHandler(handler)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _tee_print_logger(collector, monkeypatch)
        _tee_spans(collector, monkeypatch)
        _tee_audit(collector, monkeypatch)
        yield collector
    root.removeHandler(handler)
    collector.close()
    findings = collector.scan() + scan_at_rest(_at_rest(tmp_path_factory.getbasetemp(), directory))
    if findings:
        shown = "\n".join(findings[:40])
        pytest.fail(
            f"{len(findings)} test credentials or PII found in what voiceguard wrote ({directory}):\n{shown}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def log_dir(leak_scan: LeakCollector) -> Path:
    """Where subprocess logs go, so the session's scan reads them."""
    return leak_scan.directory
