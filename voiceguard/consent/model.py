"""What a consent record is, and the per-subject view a call reads: sans-IO, shared by stores and guards.

A record says that one subject (stored only as a keyed hash) agreed to one purpose, under one jurisdiction's
notice, signed in one way. Records are never deleted or edited: withdrawal stamps ``withdrawn_at`` on them,
so the registry keeps the evidence a BIPA or GDPR auditor asks for (who, what notice, how signed, when
given, when withdrawn). Times are UTC, in whole microseconds, so they round-trip through every store.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

JURISDICTION_PATTERN: Final = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
NOTICE_VERSION_PATTERN: Final = re.compile(r"[A-Za-z0-9._:@/+-]{1,64}")
SHA256_PATTERN: Final = re.compile(r"[0-9a-f]{64}")
MAX_EVIDENCE_CHARS: Final = 512
MAX_REASON_CHARS: Final = 256


EU_EEA: Final = frozenset(
    {
        *("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "IE", "IT"),
        *("LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"),
    }
)


def covers(rule_jurisdiction: str, jurisdiction: str) -> bool:
    """Whether a rule written for ``rule_jurisdiction`` applies to a call in ``jurisdiction``.

    ``US`` covers ``US-IL``; ``EU`` covers the EU and EEA member states and their regions.
    """
    if jurisdiction == rule_jurisdiction or jurisdiction.startswith(rule_jurisdiction + "-"):
        return True
    return rule_jurisdiction == "EU" and jurisdiction.split("-", 1)[0] in EU_EEA


class Purpose(StrEnum):
    """What the subject agreed to; one record covers exactly one purpose."""

    RECORDING = "recording"
    """Audio is recorded or stored."""
    TRANSCRIPTION = "transcription"
    """Audio is streamed to a speech-to-text service."""
    VOICEPRINT = "voiceprint"
    """Speaker diarization, identification, enrolment or verification: anything that makes a voiceprint."""
    VOICE_CLONING = "voice_cloning"
    """The subject's voice is used to create a synthetic voice."""
    TRAINING = "training"
    """The subject's audio or transcripts train or tune a model."""


class SignatureMethod(StrEnum):
    """How the subject signed: BIPA needs a written release; an electronic one counts, speech does not."""

    WRITTEN = "written"
    ELECTRONIC = "electronic"
    SPOKEN = "spoken"


def now_utc() -> datetime:
    return datetime.now(UTC)


def to_micros(moment: datetime) -> int:
    """A UTC instant as integer microseconds since the epoch (what the stores keep)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def new_consent_id() -> str:
    return "cns_" + os.urandom(12).hex()


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One subject's consent to one purpose, with the evidence a regulator asks for."""

    id: str
    subject_hash: str
    purpose: Purpose
    jurisdiction: str | None
    """Whose notice the subject saw (e.g. ``US-IL``); ``None`` for a notice that covers every jurisdiction."""
    notice_version: str
    signature: SignatureMethod
    granted_at: datetime
    notice_sha256: str | None = None
    evidence_ref: str | None = None
    """Where the signed release is kept (a document id, an e-signature envelope id); never the document."""
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None

    def active(self, at: datetime) -> bool:
        """Given, not withdrawn and not expired at ``at``."""
        if self.withdrawn_at is not None and self.withdrawn_at <= at:
            return False
        if self.expires_at is not None and self.expires_at <= at:
            return False
        return self.granted_at <= at

    def digest(self) -> str:
        """A hash of what was agreed, for audit evidence: it changes if any term of the record changes."""
        terms = "\x1f".join(
            (
                self.id,
                self.subject_hash,
                self.purpose.value,
                self.jurisdiction or "",
                self.notice_version,
                self.notice_sha256 or "",
                self.signature.value,
                self.evidence_ref or "",
                str(to_micros(self.granted_at)),
                str(to_micros(self.expires_at)) if self.expires_at else "",
            )
        )
        return hashlib.sha256(terms.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, object]:
        """The record as the admin API and the CLI show it (the subject only as its keyed hash)."""
        return {
            "id": self.id,
            "subject_hash": self.subject_hash,
            "purpose": self.purpose.value,
            "jurisdiction": self.jurisdiction,
            "notice_version": self.notice_version,
            "notice_sha256": self.notice_sha256,
            "signature": self.signature.value,
            "evidence_ref": self.evidence_ref,
            "granted_at": self.granted_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
            "withdrawal_reason": self.withdrawal_reason,
            "digest": self.digest(),
        }


@dataclass(slots=True, weakref_slot=True, eq=False)
class SubjectConsent:
    """The consent on record for one subject, as the calls of that subject see it.

    One object per subject is shared by all its live calls; the registry replaces ``records`` in place when
    consent changes, so a withdrawal reaches calls already running on their next event. ``loaded`` stays
    false while the store could not be read: guards then act as if nothing were on record (fail closed).
    """

    subject_hash: str
    records: tuple[ConsentRecord, ...] = ()
    loaded: bool = False
    error: str | None = None
    version: int = 0
    """Bumped on every change, so a guard can tell that what it decided before may no longer hold."""
    generation: int = 0
    """Which read of the store the records come from (the registry orders concurrent reads by it)."""

    def replace(self, records: tuple[ConsentRecord, ...]) -> None:
        self.records = records
        self.loaded = True
        self.error = None
        self.version += 1

    def fail(self, error: str) -> None:
        self.records = ()
        self.loaded = False
        self.error = error
        self.version += 1

    def active(self, purpose: Purpose, at: datetime) -> list[ConsentRecord]:
        return [r for r in self.records if r.purpose is purpose and r.active(at)]


@dataclass(slots=True)
class ConsentSlot:
    """Where a call keeps its subject's consent view; empty until the proxy attached one."""

    view: SubjectConsent | None = None


CALL_CONSENT: Final = "voiceguard.consent"
"""The ``Call.scratch`` key of the call's ``ConsentSlot``."""
