"""The evidence report: one HTML page an auditor can read, which also verifies offline.

It is written as a stream: the scope and the signing key first, then one table row per record (and per
checkpoint, and per run of records that are not in the report), then a summary with the verification
result the exporter obtained while writing. Every row carries its native export line in a ``data-vg``
attribute, so ``voiceguard audit verify --export report.html`` checks the very page the auditor reads.
No script runs in the page; everything is escaped.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any, Final

from voiceguard.audit.export import NativeLine, member, native_json
from voiceguard.audit.verify import Report

_STYLE: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font-size:12px;word-break:break-all}
tr.checkpoint td{background:#eef6ee}tr.leaves td{color:#57606a;font-style:italic}
tr.decision td{background:#fff8e5}.ok{color:#1a7f37;font-weight:bold}.bad{color:#cf222e;font-weight:bold}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:bold}
"""


def _attr(native: NativeLine) -> str:
    return escape(native_json(native), quote=True)


def _text(value: Any) -> str:
    return escape("" if value is None else str(value))


def _pairs(mapping: Any) -> str:
    if not isinstance(mapping, dict) or not mapping:
        return ""
    return ", ".join(f"{_text(key)}={_text(value)}" for key, value in mapping.items())


def _summary(kind: str, data: dict[str, Any]) -> str:
    if kind == "request":
        duration_ms = int(data.get("duration_us", 0)) / 1000
        model = f", model {_text(data['model'])}" if data.get("model") else ""
        return (
            f"{_text(data.get('method'))} /{_text(data.get('route'))}{_text(data.get('path'))} → "
            f"{_text(data.get('status'))} ({_text(data.get('outcome'))}), {duration_ms:.1f} ms{model}"
        )
    if kind == "decision":
        parts = [
            f"<b>{_text(data.get('rule'))}</b>: {_text(data.get('action'))} → {_text(data.get('outcome'))}"
        ]
        if data.get("counts"):
            parts.append(f"counts: {_pairs(data.get('counts'))}")
        if data.get("evidence"):
            parts.append(f"evidence: {_pairs(data.get('evidence'))}")
        return "; ".join(parts)
    if kind == "call.started":
        jurisdiction = data.get("jurisdiction") or "not stated"
        return f"call started (jurisdiction {_text(jurisdiction)})"
    if kind == "call.ended":
        seconds = int(data.get("duration_us", 0)) / 1e6
        return f"call ended after {_text(data.get('exchanges'))} exchange(s), {seconds:.1f} s"
    shown = {key: value for key, value in data.items() if key != "subject"}
    return _text(kind) + (f": {_pairs(shown)}" if shown else "")


class HtmlReport:
    media_type = "text/html; charset=utf-8"
    extension = "html"

    def __init__(self) -> None:
        self._kinds: Counter[str] = Counter()
        self._decisions: Counter[tuple[str, str, str]] = Counter()
        self._calls: set[str] = set()

    def begin(self, header: NativeLine) -> str:
        scope = header.get("filter") or {}
        keys = header.get("public_keys") or []
        described = ", ".join(f"{_text(k)} {_text(v)}" for k, v in scope.items()) or "the whole log"
        key_rows = "".join(
            f"<dt>Signing key {_text(key.get('key_id'))}</dt><dd>SHA-256 fingerprint "
            f"<code>{_text(key.get('fingerprint_sha256'))}</code><br>public key "
            f"<code>{_text(key.get('public_key'))}</code></dd>"
            for key in keys
            if isinstance(key, dict)
        )
        first_key = keys[0].get("public_key", "KEY") if keys and isinstance(keys[0], dict) else "KEY"
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>voiceguard audit evidence report</title>"
            f"<style>{_STYLE}</style></head><body>\n"
            "<h1>voiceguard audit evidence report</h1>\n"
            f'<dl id="export-header" data-vg="{_attr(header)}">'
            f"<dt>Scope</dt><dd>{described}</dd>"
            f"<dt>Generated</dt><dd>{_text(header.get('generated'))} by {_text(header.get('generator'))}</dd>"
            f"<dt>Log</dt><dd><code>{_text(header.get('origin'))}</code></dd>{key_rows}</dl>\n"
            "<h2>How to verify this report</h2>\n<p>Compare the key fingerprint above with the one the "
            "operator published, then run <code>voiceguard audit verify --export THIS_FILE --public-key "
            f"{_text(first_key)}</code>. Each record below is chained by SHA-256 to the one before it; green "
            "rows are Ed25519-signed checkpoints of the whole log; grey rows stand for records of other "
            "calls, included only as hashes so that the chain can be recomputed without revealing them.</p>\n"
            "<h2>Records</h2>\n<table><thead><tr><th>#</th><th>Time (UTC)</th><th>Kind</th>"
            "<th>What happened</th><th>Caller (keyed hash)</th><th>Record hash</th></tr></thead><tbody>\n"
        )

    def line(self, native: NativeLine) -> str:
        attribute = _attr(native)
        if "checkpoint" in native:
            checkpoint = member(native, "checkpoint")
            return (
                f'<tr class="checkpoint" data-vg="{attribute}"><td>{_text(checkpoint.get("size"))}</td>'
                f"<td>{_text(checkpoint.get('time'))}</td><td>signed checkpoint</td><td>The log held "
                f"{_text(checkpoint.get('size'))} records; signed by key "
                f"{_text(checkpoint.get('key_id'))}</td>"
                f"<td></td><td><code>{_text(str(checkpoint.get('head', ''))[:16])}…</code></td></tr>\n"
            )
        if "leaves" in native:
            leaves = member(native, "leaves")
            count = len(leaves.get("hashes") or [])
            return (
                f'<tr class="leaves" data-vg="{attribute}"><td>{_text(leaves.get("from"))}</td><td></td>'
                f"<td>not in this report</td><td>{count} record(s) outside the scope, kept as hashes "
                "only</td>"
                "<td></td><td></td></tr>\n"
            )
        record = member(native, "record")
        data = member(record, "data")
        kind = str(record.get("kind", ""))
        self._kinds[kind] += 1
        if record.get("call"):
            self._calls.add(str(record["call"]))
        if kind == "decision":
            self._decisions[(str(data.get("rule")), str(data.get("action")), str(data.get("outcome")))] += 1
        css = ' class="decision"' if kind == "decision" else ""
        subject = str(data.get("subject") or "")
        return (
            f'<tr{css} data-vg="{attribute}"><td>{_text(record.get("seq"))}</td>'
            f"<td>{_text(record.get('time'))}</td><td>{_text(kind)}</td><td>{_summary(kind, data)}</td>"
            f"<td><code>{_text(subject[:16])}</code></td>"
            f"<td><code>{_text(str(native.get('hash', ''))[:16])}…</code></td></tr>\n"
        )

    def end(self, report: Report) -> str:
        if report.ok and not report.unsigned:
            verdict = (
                f'<p class="ok">Verified at export time: every record in this report chains to a signed '
                f"checkpoint ({report.checkpoints} checkpoint(s), key(s) "
                f"{_text(', '.join(sorted(report.key_ids)))}).</p>"
            )
        elif report.ok:
            verdict = (
                f'<p class="bad">Chain intact, but the last {report.unsigned} record(s) are not yet covered '
                "by a signed checkpoint.</p>"
            )
        else:
            failure = report.failure
            message = failure.message if failure is not None else "unknown"
            verdict = f'<p class="bad">VERIFICATION FAILED at export time: {_text(message)}</p>'
        kinds = "".join(
            f"<tr><td>{_text(kind)}</td><td>{count}</td></tr>" for kind, count in sorted(self._kinds.items())
        )
        decisions = (
            "".join(
                f"<tr><td>{_text(rule)}</td><td>{_text(action)}</td><td>{_text(outcome)}</td><td>{count}</td></tr>"
                for (rule, action, outcome), count in sorted(self._decisions.items())
            )
            or '<tr><td colspan="4">No policy decisions in scope.</td></tr>'
        )
        return (
            "</tbody></table>\n<h2>Summary</h2>\n"
            f"{verdict}\n<p>{sum(self._kinds.values())} record(s) across {len(self._calls)} call(s).</p>\n"
            "<table><thead><tr><th>Record kind</th><th>Count</th></tr></thead><tbody>"
            f"{kinds}</tbody></table>\n<h2>Policy decisions</h2>\n"
            "<table><thead><tr><th>Rule</th><th>Action</th><th>Outcome</th><th>Count</th></tr></thead><tbody>"
            f"{decisions}</tbody></table>\n</body></html>\n"
        )
