"""The public retention schedule and destruction guidelines BIPA 15(a) requires, rendered from the rules.

``voiceguard policy publish`` prints it as Markdown. Because it is generated from the same policy packs the
proxy enforces (their ``biometric-consent`` and ``biometric-retention`` rules), what is published cannot
drift from what is done. Publish it before any biometric collection starts and configure where it is and its
SHA-256 (which the command prints) as ``biometrics.retention_schedule_url`` / ``_sha256``: the packs that
require a published schedule (BIPA 15(a), Colorado) strip biometric features until then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from voiceguard import __version__
from voiceguard.biometrics.retention import RetentionSchedule
from voiceguard.policy.biometric import ConsentRequirement

_SIGNED = "a written release or an electronic signature"
_ANY = "any recorded consent (written, electronic or spoken)"


def _days(days: int) -> str:
    if days == 0:
        return "at once"
    if days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years > 1 else ''}"
    if days % 30 == 0 and days >= 60:
        return f"{days // 30} months"
    return f"{days} days"


def render_schedule(
    consent_rules: Iterable[ConsentRequirement],
    schedule: RetentionSchedule,
    *,
    controller: str,
    contact: str | None,
    sweep_seconds: float,
    today: date | None = None,
) -> str:
    """The schedule as Markdown."""
    today = today or date.today()
    lines = [
        "# Biometric data retention schedule and destruction guidelines",
        "",
        f"Published by {controller} under 740 ILCS 14/15(a) and the other biometric privacy laws listed "
        f"below. Generated on {today.isoformat()} by voiceguard {__version__} from the rules it enforces.",
        "",
        "## What is collected",
        "",
        "- **Voiceprints**: created when a speech service separates (diarizes), identifies, enrols or "
        "verifies speakers. They are created only with the consent listed below, for each speaker.",
        "- **Voice models**: a synthetic voice made from a person's voice, only with consent to voice "
        "cloning.",
        "- **Audio recordings**: not stored unless recording is enabled; stored audio is encrypted and "
        "follows this schedule.",
        "",
        "Voiceprints are never sold, leased or traded, and are disclosed to a speech service only with the "
        "consent below.",
        "",
        "## Consent before collection",
        "",
        "| Jurisdiction | Rule | Features | Consent that counts |",
        "|---|---|---|---|",
    ]
    for rule in consent_rules:
        forms = _SIGNED if rule.signed_only else _ANY
        features = ", ".join(feature.replace("_", " ") for feature in rule.features)
        lines.append(f"| {', '.join(sorted(rule.jurisdictions))} | {rule.rule_id} | {features} | {forms} |")
    lines += [
        "",
        "## Retention and destruction",
        "",
        "Biometric data and stored audio are destroyed at the earliest of the dates that apply:",
        "",
        "| Jurisdiction | Rule | Law | After the purpose is satisfied | After the last interaction |",
        "|---|---|---|---|---|",
    ]
    for limit in schedule.rules:
        after_purpose = _days(limit.days_after_purpose) if limit.days_after_purpose is not None else "—"
        last = limit.days_after_last_interaction
        after_last = _days(last) if last is not None else "—"
        lines.append(
            f"| {', '.join(sorted(limit.jurisdictions))} | {limit.rule_id} | {limit.law} | {after_purpose} | "
            f"{after_last} |"
        )
    lines += [
        "",
        f"Everywhere else, and as an upper bound everywhere, nothing is kept longer than "
        f"{_days(schedule.default_days)} after it was collected.",
        "",
        "## How data is destroyed",
        "",
        f"- A destruction job runs every {sweep_seconds:g} seconds. Each artefact is stored encrypted; on "
        "its date the file is overwritten, synced and deleted.",
        "- Every destruction is written to a tamper-evident audit log: which artefact (by id and hash), "
        "under which rule, and when.",
        "- Data is kept past its date only under a valid warrant or subpoena, for as long as it requires.",
        "- Voiceprints made during a call to tell speakers apart are held in memory for that call only.",
        "",
        "## Withdrawing consent",
        "",
        "Consent can be withdrawn at any time; withdrawal takes effect for calls in progress and later ones.",
    ]
    if contact:
        lines.append(f"Contact: {contact}")
    lines.append("")
    return "\n".join(lines)
