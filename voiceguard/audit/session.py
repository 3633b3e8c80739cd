"""What an export or a verification needs around the store: the filter, the keys, sealing the tail.

Shared by the CLI and the admin API so that both produce the same files and accept the same filters.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from voiceguard.audit.canonical import parse_time
from voiceguard.audit.chain import CheckpointSigner, PublicKey
from voiceguard.audit.record import RecordFilter
from voiceguard.config import Settings
from voiceguard.keys import KeyStore

AUDIT_KEY_NAME = "audit"


def parse_selection(since: str | None, until: str | None, call_id: str | None) -> RecordFilter:
    """A filter from user input; raises ``ValueError`` with a message fit to show."""
    selection = RecordFilter(
        since_us=parse_time(since) if since else None,
        until_us=parse_time(until) if until else None,
        call_id=call_id or None,
    )
    if selection.call_id is not None and len(selection.call_id) > 256:
        raise ValueError("a call id is at most 256 characters")
    if (
        selection.since_us is not None
        and selection.until_us is not None
        and selection.since_us >= selection.until_us
    ):
        raise ValueError("--since must be earlier than --until")
    return selection


def local_signer(settings: Settings) -> CheckpointSigner | None:
    """This installation's checkpoint signer, if its key exists (never creates one)."""
    if not KeyStore.has_signing_key(settings.data_dir, AUDIT_KEY_NAME):
        return None
    return CheckpointSigner(KeyStore(settings.data_dir).signing_key(AUDIT_KEY_NAME))


def read_public_key(value: str) -> PublicKey:
    """A public key given as base64 text or as a file holding it."""
    path = Path(value)
    text = path.read_text(encoding="utf-8") if len(value) < 4096 and path.is_file() else value
    return PublicKey.parse(text)


def trusted_keys(settings: Settings, supplied: Sequence[str]) -> list[PublicKey]:
    keys = [read_public_key(value) for value in supplied]
    signer = local_signer(settings)
    if signer is not None and all(key.raw != signer.public.raw for key in keys):
        keys.append(signer.public)
    return keys


def now_us() -> int:
    return time.time_ns() // 1000
