"""What the admin API and the CLI accept to grant or withdraw consent, validated before anything is stored.

The raw subject (a phone number, an account id) arrives here and nowhere further: the registry hashes it
with the installation's subject key before it touches a store, a log or the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from voiceguard.consent.model import (
    JURISDICTION_PATTERN,
    MAX_EVIDENCE_CHARS,
    MAX_REASON_CHARS,
    NOTICE_VERSION_PATTERN,
    SHA256_PATTERN,
    Purpose,
    SignatureMethod,
)

MAX_SUBJECT_CHARS = 256
MAX_VALID_DAYS = 366 * 10


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GrantRequest(_Request):
    """A consent to record: who, for what, under whose notice, signed how, kept where, valid how long."""

    subject: str = Field(min_length=1, max_length=MAX_SUBJECT_CHARS)
    purpose: Purpose
    jurisdiction: str | None = None
    notice_version: str
    notice_sha256: str | None = None
    signature: SignatureMethod
    evidence_ref: str | None = Field(None, max_length=MAX_EVIDENCE_CHARS)
    expires_at: datetime | None = None
    valid_days: int | None = Field(None, gt=0, le=MAX_VALID_DAYS)
    granted_at: datetime | None = None
    """When the subject signed, if earlier than now (a release signed on paper, entered later)."""

    @field_validator("subject")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("jurisdiction")
    @classmethod
    def _jurisdiction(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if not JURISDICTION_PATTERN.fullmatch(value):
            raise ValueError("must be a country code or country-region code such as EU, DE, US-IL")
        return value

    @field_validator("notice_version")
    @classmethod
    def _notice_version(cls, value: str) -> str:
        if not NOTICE_VERSION_PATTERN.fullmatch(value):
            raise ValueError("must be 1-64 characters of A-Z a-z 0-9 . _ : @ / + -")
        return value

    @field_validator("notice_sha256")
    @classmethod
    def _notice_sha256(cls, value: str | None) -> str | None:
        if value is not None and not SHA256_PATTERN.fullmatch(value.lower()):
            raise ValueError("must be 64 hex digits (the SHA-256 of the notice text shown)")
        return value.lower() if value else None

    @field_validator("expires_at", "granted_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. 2027-01-31T00:00:00Z)")
        return value.astimezone(UTC) if value else None

    @model_validator(mode="after")
    def _one_expiry(self) -> GrantRequest:
        if self.expires_at is not None and self.valid_days is not None:
            raise ValueError("give expires_at or valid_days, not both")
        return self

    def expiry(self, granted: datetime) -> datetime | None:
        if self.valid_days is not None:
            return granted + timedelta(days=self.valid_days)
        return self.expires_at


class WithdrawRequest(_Request):
    """Withdraw one record by id, or a subject's records (of one purpose, or all of them)."""

    subject: str | None = Field(None, min_length=1, max_length=MAX_SUBJECT_CHARS)
    consent_id: str | None = Field(None, pattern=r"cns_[0-9a-f]{24}")
    purpose: Purpose | None = None
    reason: str | None = Field(None, max_length=MAX_REASON_CHARS)

    @model_validator(mode="after")
    def _target(self) -> WithdrawRequest:
        if self.subject is None and self.consent_id is None:
            raise ValueError("name a subject or a consent_id")
        return self
