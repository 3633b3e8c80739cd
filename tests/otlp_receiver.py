"""A real OTLP receiver for tests: rotel (a collector shipped as a binary in its PyPI wheel), run with its
debug exporter, and a reader of what it printed."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import rotel

AGENT = Path(rotel.__file__).parent / "rotel-agent"
_ATTRIBUTE = re.compile(r"^\s+-> ([^:]+): (.*)$")
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class ReceivedSpan:
    trace_id: str
    parent_id: str
    span_id: str
    name: str
    attributes: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)


@dataclass
class Receiver:
    http_port: int
    grpc_port: int
    output: Path

    def endpoint(self, protocol: str) -> str:
        port = self.grpc_port if protocol == "grpc" else self.http_port
        return f"http://127.0.0.1:{port}"

    def text(self) -> str:
        return _ESCAPES.sub("", self.output.read_text(encoding="utf-8", errors="replace"))

    def spans(self) -> list[ReceivedSpan]:
        return parse_spans(self.text())

    def wait_for(self, names: set[str], timeout: float = 20.0) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if names <= {span.name for span in spans} or time.monotonic() > deadline:
                return spans
            time.sleep(0.1)

    def wait_for_text(self, needle: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


def parse_spans(text: str) -> list[ReceivedSpan]:
    """Spans from rotel's detailed debug output (one ``Span #n`` block each)."""
    spans: list[ReceivedSpan] = []
    current: ReceivedSpan | None = None
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Span #"):
            current = ReceivedSpan("", "", "", "")
            spans.append(current)
            section = "head"
            continue
        if current is None:
            continue
        if stripped.startswith(("ResourceSpans #", "ResourceMetrics #", "ScopeSpans #")):
            current, section = None, ""
            continue
        if section == "head" and ":" in stripped:
            key, _, value = stripped.partition(":")
            key, value = key.strip(), value.strip()
            if key == "Trace ID":
                current.trace_id = value
            elif key == "Parent ID":
                current.parent_id = value
            elif key == "ID":
                current.span_id = value
            elif key == "Name":
                current.name = value
        if stripped == "Attributes:":
            section = "attributes"
        elif stripped == "Events:":
            section = "events"
        elif section == "attributes" and (match := _ATTRIBUTE.match(line)):
            current.attributes[match.group(1)] = match.group(2)
        elif section == "events" and stripped.startswith("-> Name:"):
            current.events.append(stripped.removeprefix("-> Name:").strip())
    return spans


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def otlp_receiver(directory: Path, http_port: int | None = None) -> Iterator[Receiver]:
    """Run rotel on free ports (or ``http_port``), printing every span and metric it receives."""
    receiver = Receiver(http_port or free_port(), free_port(), directory / "rotel.out")
    args = [
        str(AGENT),
        "start",
        "--otlp-grpc-endpoint",
        f"127.0.0.1:{receiver.grpc_port}",
        "--otlp-http-endpoint",
        f"127.0.0.1:{receiver.http_port}",
        "--exporter",
        "blackhole",
        "--debug-log",
        "traces",
        "--debug-log",
        "metrics",
        "--debug-log-verbosity",
        "detailed",
        "--pid-file",
        str(directory / "rotel.pid"),
        "--log-file",
        str(directory / "rotel.log"),
    ]
    with receiver.output.open("wb") as output:
        process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT)
        try:
            if not receiver.wait_for_text("Starting Rotel", timeout=15):
                raise RuntimeError(f"rotel did not start: {receiver.text()[-2000:]}")
            _wait_listening(receiver.http_port)
            yield receiver
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")
