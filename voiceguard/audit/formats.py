"""JSON Lines and CSV exports, and the registry of every export format.

JSON Lines is the native stream itself, one object per line. CSV puts the fields an analyst filters on in
columns and the native line, verbatim, in the last column ``voiceguard``, so the file verifies offline
like any other export; rows that are not records (header, checkpoints, leaf-hash runs) have only their
``kind`` and that column. Cells a spreadsheet would run as a formula are prefixed with ``'`` (OWASP CSV
injection advice); the ``voiceguard`` column never needs it, as JSON starts with ``{``.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Final

from voiceguard.audit.export import ExportFormat, NativeLine, member, native_json
from voiceguard.audit.html import HtmlReport
from voiceguard.audit.ocsf import Ocsf
from voiceguard.audit.verify import Report

CSV_COLUMNS: Final = (
    "seq",
    "time",
    "kind",
    "call",
    "subject",
    "route",
    "operation",
    "status",
    "outcome",
    "rule",
    "action",
    "duration_us",
    "hash",
    "voiceguard",
)
_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


class JsonLines:
    media_type = "application/x-ndjson"
    extension = "jsonl"

    def begin(self, header: NativeLine) -> str:
        return native_json(header) + "\n"

    def line(self, native: NativeLine) -> str:
        return native_json(native) + "\n"

    def end(self, report: Report) -> str:
        return ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


class Csv:
    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def _row(self, values: dict[str, Any]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow([values.get(column, "") for column in CSV_COLUMNS])
        return buffer.getvalue()

    def begin(self, header: NativeLine) -> str:
        return self._row({column: column for column in CSV_COLUMNS}) + self.line(header)

    def line(self, native: NativeLine) -> str:
        verbatim = native_json(native)
        record = native.get("record")
        if not isinstance(record, dict):
            kind = "voiceguard.export"
            if "checkpoint" in native:
                kind = "voiceguard.checkpoint"
            elif "leaves" in native:
                kind = "voiceguard.leaves"
            return self._row({"kind": kind, "voiceguard": verbatim})
        data = member(record, "data")
        return self._row(
            {
                "seq": record.get("seq"),
                "time": record.get("time"),
                "kind": _cell(record.get("kind")),
                "call": _cell(record.get("call")),
                "subject": _cell(data.get("subject")),
                "route": _cell(data.get("route")),
                "operation": _cell(data.get("operation")),
                "status": _cell(data.get("status")),
                "outcome": _cell(data.get("outcome")),
                "rule": _cell(data.get("rule")),
                "action": _cell(data.get("action")),
                "duration_us": _cell(data.get("duration_us")),
                "hash": native.get("hash"),
                "voiceguard": verbatim,
            }
        )

    def end(self, report: Report) -> str:
        return ""


def export_format(name: str) -> ExportFormat:
    """The writer for ``jsonl``, ``csv``, ``ocsf`` or ``html``."""
    formats: dict[str, type[ExportFormat]] = {
        "jsonl": JsonLines,
        "csv": Csv,
        "ocsf": Ocsf,
        "html": HtmlReport,
    }
    try:
        return formats[name]()
    except KeyError:
        raise ValueError(f"unknown export format {name!r}; choose one of: {', '.join(formats)}") from None


FORMAT_NAMES: Final = ("jsonl", "csv", "ocsf", "html")
