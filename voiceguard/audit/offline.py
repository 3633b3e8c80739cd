"""Verifying an export file offline, whatever its format, without access to the log or the proxy.

Each format carries the same native lines (see ``export.py``): JSON Lines as is, OCSF under
``unmapped.voiceguard``, CSV in the ``voiceguard`` column, HTML in ``data-vg`` attributes. They are read back
in order, streaming, and folded by the same ``ChainVerifier`` as the store. Trust comes from the keys the
auditor supplies (``--public-key``); without them the keys printed in the export are used, and the report
says so, because a forger could re-sign a whole export with a key of their own: compare the fingerprint
with the one the operator published.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

import orjson

from voiceguard.audit.chain import PublicKey
from voiceguard.audit.export import NativeLine, feed
from voiceguard.audit.verify import ChainVerifier, Failure, Report

READ_BYTES: Final = 256 * 1024
MAX_LINE_BYTES: Final = 16 * 1024 * 1024


class BadExport(ValueError):
    """The file is not a voiceguard export (or is damaged beyond reading)."""


@dataclass(slots=True)
class ExportCheck:
    report: Report
    keys_from_export: bool
    """True when no key was supplied and the export's own keys were trusted."""
    fingerprints: list[str]


def _json(raw: bytes | str, where: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadExport(f"{where}: not JSON ({exc})") from None


def _json_lines(path: Path, ocsf: bool) -> Iterator[NativeLine]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise BadExport(f"line {number} is longer than {MAX_LINE_BYTES} bytes")
            if not raw.strip():
                continue
            value = _json(raw, f"line {number}")
            if ocsf:
                value = value.get("unmapped", {}).get("voiceguard") if isinstance(value, dict) else None
            if not isinstance(value, dict):
                raise BadExport(f"line {number} carries no voiceguard export line")
            yield value


def _csv_lines(path: Path) -> Iterator[NativeLine]:
    with path.open(newline="", encoding="utf-8") as handle:
        csv.field_size_limit(MAX_LINE_BYTES)
        for number, row in enumerate(csv.DictReader(handle), start=2):
            text = row.get("voiceguard")
            if text is None:
                raise BadExport("the CSV has no 'voiceguard' column")
            value = _json(text, f"CSV row {number}")
            if not isinstance(value, dict):
                raise BadExport(f"CSV row {number} carries no voiceguard export line")
            yield value


class _DataVgParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "data-vg" and value is not None:
                self.found.append(value)


def _html_lines(path: Path) -> Iterator[NativeLine]:
    parser = _DataVgParser()
    with path.open(encoding="utf-8") as handle:
        while chunk := handle.read(READ_BYTES):
            parser.feed(chunk)
            found, parser.found = parser.found, []
            for text in found:
                value = _json(text, "data-vg attribute")
                if isinstance(value, dict):
                    yield value
    parser.close()
    for text in parser.found:
        value = _json(text, "data-vg attribute")
        if isinstance(value, dict):
            yield value


def read_native_lines(path: Path) -> Iterator[NativeLine]:
    """The native lines of an export file, detecting its format from its first bytes."""
    with path.open("rb") as handle:
        start = handle.read(4096).lstrip()
    if start.lower().startswith((b"<!doctype html", b"<html")):
        return _html_lines(path)
    if start.startswith(b"{"):
        first = start.split(b"\n", 1)[0]
        return _json_lines(path, ocsf=b'"class_uid"' in first)
    if start.startswith(b"seq,"):
        return _csv_lines(path)
    raise BadExport(f"{path} is not a voiceguard export (JSON Lines, OCSF, CSV or HTML)")


def verify_export(
    path: Path, trusted_keys: Sequence[PublicKey] = (), *, allow_unsigned_tail: bool = False
) -> ExportCheck:
    """Verify an export file; raises ``BadExport`` when it cannot be read as one."""
    lines = read_native_lines(path)
    header = next(lines, None)
    if header is None or "voiceguard_audit_export" not in header:
        raise BadExport(f"{path} does not start with a voiceguard export header")
    exported = [PublicKey.parse(str(key.get("public_key", ""))) for key in header.get("public_keys", [])]
    keys = list(trusted_keys) or exported
    verifier = ChainVerifier(str(header.get("origin", "")), {key.key_id: key for key in keys}, export=True)
    for native in lines:
        feed(verifier, native)
        if verifier.failure is not None:
            break
    report = verifier.finish()
    if report.ok and report.unsigned and not allow_unsigned_tail:
        report.failure = Failure(
            None, f"the last {report.unsigned} record(s) of the export are not covered by a signed checkpoint"
        )
    return ExportCheck(report, not trusted_keys, [key.fingerprint for key in keys])
