"""OCSF export (schema 1.7.0): one OCSF event per line, for SIEMs.

Class per record kind:

- ``request`` → API Activity (6003): the proxied call, its operation, status, timings;
- ``decision`` → Compliance Finding (2003), or Data Security Finding (2006) when it is a PII detection
  (evidence ``control=pii``, a rule id starting with ``pii``, or action ``redact``/``pseudonymize``/``mask``);
- ``consent.*`` → Account Change (3001): granted = Attach Policy (7), revoked/withdrawn = Detach Policy (8);
- ``audit.*`` → Event Log Activity (1008): logging started = Enable (3), stopped = Disable (4), exported =
  Export (7);
- anything else (call started/ended, retention, admin) and the export's verification lines (header,
  checkpoints, leaf hashes) → Base Event (0), activity Other.

Every event carries the native line under ``unmapped.voiceguard``, so an OCSF export verifies offline like
any other (``voiceguard audit verify --export FILE``) and a SIEM simply ignores what it does not map.
"""

from __future__ import annotations

from typing import Any, Final

from voiceguard import __version__
from voiceguard.audit.canonical import parse_time
from voiceguard.audit.export import NativeLine, member, native_json
from voiceguard.audit.verify import Report
from voiceguard.events import DECISION_CONTROL

OCSF_VERSION: Final = "1.7.0"

API_ACTIVITY: Final = 6003
COMPLIANCE_FINDING: Final = 2003
DATA_SECURITY_FINDING: Final = 2006
ACCOUNT_CHANGE: Final = 3001
EVENT_LOG_ACTIVITY: Final = 1008
BASE_EVENT: Final = 0
OTHER: Final = 99

SEVERITY_INFORMATIONAL: Final = 1
SEVERITY_MEDIUM: Final = 3

_HTTP_ACTIVITY: Final = {"POST": 1, "GET": 2, "HEAD": 2, "PUT": 3, "PATCH": 3, "DELETE": 4}
_PII_ACTIONS: Final = frozenset({"redact", "redacted", "pseudonymize", "pseudonymized", "mask", "masked"})
_FAIL_WORDS: Final = ("block", "fail", "violat", "denied", "refus", "missing")
_STANDARDS: Final = {
    "EUAI": "EU AI Act",
    "BIPA": "Illinois BIPA (740 ILCS 14)",
    "TX": "Texas CUBI (Bus. & Com. Code 503.001)",
    "WA": "Washington biometric and health data laws",
    "CO": "Colorado biometric privacy (6-1-1314)",
    "GDPR": "GDPR",
    "PCI": "PCI DSS v4.0",
    "HIPAA": "HIPAA",
    "TCPA": "TCPA",
    "REC": "Call recording consent laws",
    "UT": "Utah AI Policy Act",
    "CA": "California B&P 17941",
}


def _time_ms(record: dict[str, Any]) -> int:
    try:
        return parse_time(str(record.get("time", ""))) // 1000
    except ValueError:
        return 0


def _base(
    class_uid: int, activity_id: int, time_ms: int, native: NativeLine, severity: int
) -> dict[str, Any]:
    category = class_uid // 1000
    record = member(native, "record")
    metadata: dict[str, Any] = {
        "product": {"name": "voiceguard", "vendor_name": "voiceguard", "version": __version__},
        "version": OCSF_VERSION,
        "log_provider": "voiceguard-audit",
    }
    if native.get("hash"):
        metadata["uid"] = native["hash"]
    if record.get("call"):
        metadata["correlation_uid"] = record["call"]
    return {
        "class_uid": class_uid,
        "category_uid": category,
        "activity_id": activity_id,
        "type_uid": class_uid * 100 + activity_id,
        "severity_id": severity,
        "time": time_ms,
        "metadata": metadata,
        "unmapped": {"voiceguard": native},
    }


def _actor(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("subject"):
        return {"user": {"uid": data["subject"], "type_id": 99, "type": "Caller (keyed hash)"}}
    return {"app_name": "voice agent"}


def _api_activity(native: NativeLine, record: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    method = str(data.get("method", "")).upper()
    activity = OTHER if data.get("transport") == "websocket" else _HTTP_ACTIVITY.get(method, OTHER)
    status = data.get("status")
    success = data.get("outcome") == "ok" and isinstance(status, int) and status < 400
    event = _base(API_ACTIVITY, activity, _time_ms(record), native, SEVERITY_INFORMATIONAL)
    if activity == OTHER:
        event["activity_name"] = "WebSocket session" if data.get("transport") == "websocket" else method
    event.update(
        {
            "actor": _actor(data),
            "api": {
                "operation": data.get("operation"),
                "service": {"name": data.get("provider")},
                "request": {"uid": data.get("exchange")},
            },
            "src_endpoint": {"svc_name": "voice-agent"},
            "dst_endpoint": {"svc_name": data.get("provider"), "name": data.get("route")},
            "http_request": {"http_method": method, "url": {"path": data.get("path")}},
            "status_id": 1 if success else 2,
            "status": "Success" if success else "Failure",
            "duration": int(data.get("duration_us", 0)) // 1000,
        }
    )
    if isinstance(status, int):
        event["http_response"] = {"code": status}
        event["status_code"] = str(status)
    if data.get("error"):
        event["status_detail"] = data["error"]
    if data.get("model"):
        event["api"]["version"] = data["model"]
    return event


def _is_pii(data: dict[str, Any]) -> bool:
    return (
        member(data, "evidence").get(DECISION_CONTROL) == "pii"
        or str(data.get("rule", "")).lower().startswith("pii")
        or str(data.get("action", "")).lower() in _PII_ACTIONS
    )


def _standard(rule: str) -> str:
    return _STANDARDS.get(rule.split("-", 1)[0].upper(), "voiceguard policy")


def _finding_info(native: NativeLine, data: dict[str, Any], time_ms: int) -> dict[str, Any]:
    rule = str(data.get("rule", ""))
    return {
        "uid": native.get("hash") or "",
        "title": f"{rule}: {data.get('action')} ({data.get('outcome')})",
        "created_time": time_ms,
        "analytic": {"name": rule, "type_id": 1, "type": "Rule"},
        "types": ["voiceguard.decision"],
    }


def _decision(native: NativeLine, record: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    time_ms = _time_ms(record)
    verdict = f"{data.get('action', '')} {data.get('outcome', '')}".lower()
    failed = any(word in verdict for word in _FAIL_WORDS)
    severity = SEVERITY_MEDIUM if failed else SEVERITY_INFORMATIONAL
    rule = str(data.get("rule", ""))
    if _is_pii(data):
        counts = member(data, "counts")
        event = _base(DATA_SECURITY_FINDING, 1, time_ms, native, severity)
        event["data_security"] = {
            "data_lifecycle_state_id": 2,
            "data_lifecycle_state": "Data in-Transit",
            "detection_system_id": 5,
            "detection_system": "Secure Web Gateway",
            "detection_pattern": ",".join(sorted(counts)),
            "policy": {"name": rule},
        }
    else:
        event = _base(COMPLIANCE_FINDING, 1, time_ms, native, severity)
        event["compliance"] = {
            "control": rule,
            "standards": [_standard(rule)],
            "status_id": 3 if failed else 1,
            "status": "Fail" if failed else "Pass",
            "status_detail": f"{data.get('action')}: {data.get('outcome')}",
        }
    event["finding_info"] = _finding_info(native, data, time_ms)
    event["actor"] = _actor(data)
    event["resources"] = [{"type": "voiceguard.exchange", "uid": data.get("exchange")}]
    return event


def _account_change(native: NativeLine, record: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    kind = str(record.get("kind", ""))
    action = kind.split(".", 1)[1] if "." in kind else kind
    activity = 7 if action == "granted" else 8 if action in ("revoked", "withdrawn") else OTHER
    event = _base(ACCOUNT_CHANGE, activity, _time_ms(record), native, SEVERITY_INFORMATIONAL)
    if activity == OTHER:
        event["activity_name"] = kind
    event["user"] = {"uid": data.get("subject") or "unknown", "type_id": 99, "type": "Caller (keyed hash)"}
    if data.get("purpose"):
        event["policy"] = {"name": f"consent:{data['purpose']}"}
    return event


def _event_log(native: NativeLine, record: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    kind = str(record.get("kind", ""))
    activity = {"audit.logging_started": 3, "audit.logging_stopped": 4, "audit.exported": 7}.get(kind, OTHER)
    severity = SEVERITY_MEDIUM if kind == "audit.records_dropped" else SEVERITY_INFORMATIONAL
    event = _base(EVENT_LOG_ACTIVITY, activity, _time_ms(record), native, severity)
    if activity == OTHER:
        event["activity_name"] = kind
    event["log_provider"] = "voiceguard-audit"
    event["log_name"] = str(record.get("source", "voiceguard"))
    return event


def to_ocsf(native: NativeLine) -> dict[str, Any]:
    record = native.get("record")
    if not isinstance(record, dict):
        what = (
            "checkpoint"
            if "checkpoint" in native
            else "leaf hashes"
            if "leaves" in native
            else "export header"
        )
        event = _base(BASE_EVENT, OTHER, 0, native, SEVERITY_INFORMATIONAL)
        event["activity_name"] = f"voiceguard audit {what}"
        event["message"] = f"voiceguard audit export verification material: {what}"
        return event
    data = member(record, "data")
    kind = str(record.get("kind", ""))
    if kind == "request":
        return _api_activity(native, record, data)
    if kind == "decision":
        return _decision(native, record, data)
    if kind.startswith("consent."):
        return _account_change(native, record, data)
    if kind.startswith("audit."):
        return _event_log(native, record, data)
    event = _base(BASE_EVENT, OTHER, _time_ms(record), native, SEVERITY_INFORMATIONAL)
    event["activity_name"] = kind
    return event


class Ocsf:
    media_type = "application/x-ndjson"
    extension = "ocsf.jsonl"

    def begin(self, header: NativeLine) -> str:
        return self.line(header)

    def line(self, native: NativeLine) -> str:
        return native_json(to_ocsf(native)) + "\n"

    def end(self, report: Report) -> str:
        return ""
