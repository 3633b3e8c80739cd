"""Hash chaining of records and Ed25519-signed checkpoints of the chain head.

Each record has a leaf hash of its canonical content, ``leaf = SHA-256(0x00 ‖ content)``, and the chain
hash after it, ``hash = SHA-256(0x01 ‖ prev ‖ leaf)``, where ``prev`` is the chain hash of the record before
(32 zero bytes before the first). The domain-separation bytes are RFC 6962's. Splitting leaf from link is
what lets an export prove a subset of records: the records it leaves out are represented by their 32-byte
leaf hashes alone, and the chain can still be recomputed up to a signed checkpoint.

A checkpoint signs ``(origin, size, head, time, previous checkpoint's signature)``, CloudTrail-style: the
signatures themselves form a chain, so deleting a checkpoint is as visible as deleting a record, and a log
truncated below a checkpoint's size is caught by that checkpoint. The signed message is plain text so an
auditor can reproduce it with any Ed25519 tool (see ``checkpoint_message``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from voiceguard.audit.canonical import format_time
from voiceguard.audit.record import Entry, StoredRecord

GENESIS: Final = "0" * 64
"""The chain hash before the first record."""
CHECKPOINT_HEADER: Final = "voiceguard-audit-checkpoint/v1"
NO_PREVIOUS: Final = "-"


def leaf_hash(body: str) -> str:
    return hashlib.sha256(b"\x00" + body.encode("utf-8")).hexdigest()


def link_hash(prev: str, leaf: str) -> str:
    return hashlib.sha256(b"\x01" + bytes.fromhex(prev) + bytes.fromhex(leaf)).hexdigest()


def link(size: int, head: str, entries: Sequence[Entry]) -> list[StoredRecord]:
    """The rows for ``entries`` appended after a log of ``size`` records whose chain hash is ``head``."""
    rows: list[StoredRecord] = []
    for offset, entry in enumerate(entries, start=1):
        seq = size + offset
        body = entry.body(seq)
        leaf = leaf_hash(body)
        chained = link_hash(head, leaf)
        rows.append(StoredRecord(seq, entry.time_us, entry.kind, entry.call_id, body, leaf, head, chained))
        head = chained
    return rows


def fold(head: str, leaves: Iterable[str]) -> str:
    """The chain hash after appending records with these leaf hashes."""
    for leaf in leaves:
        head = link_hash(head, leaf)
    return head


# --- keys ---------------------------------------------------------------------------------------------


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_fingerprint(public: bytes) -> str:
    """SHA-256 of the raw public key, hex: what an operator publishes and an auditor compares."""
    return hashlib.sha256(public).hexdigest()


def key_id(public: bytes) -> str:
    return key_fingerprint(public)[:16]


@dataclass(frozen=True, slots=True)
class PublicKey:
    raw: bytes

    @property
    def key_id(self) -> str:
        return key_id(self.raw)

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.raw)

    def to_json(self) -> dict[str, str]:
        return {
            "key_id": self.key_id,
            "algorithm": "ed25519",
            "public_key": base64.b64encode(self.raw).decode(),
            "fingerprint_sha256": self.fingerprint,
        }

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """A key as ``voiceguard audit key`` prints it: base64 of the 32 raw bytes."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError as exc:
            raise ValueError("a public key is the base64 of 32 raw Ed25519 bytes") from exc
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
        return cls(raw)


# --- checkpoints --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: the log ``origin`` had ``size`` records with chain hash ``head`` at ``time_us``."""

    origin: str
    size: int
    head: str
    time_us: int
    previous_signature: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        return checkpoint_message(self.origin, self.size, self.head, self.time_us, self.previous_signature)

    def verify(self, key: PublicKey) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(key.raw).verify(
                base64.b64decode(self.signature), self.message()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "head": self.head,
            "time": format_time(self.time_us),
            "time_us": self.time_us,
            "previous_signature": self.previous_signature,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        if not isinstance(data, dict):
            raise ValueError("a checkpoint is a JSON object")
        try:
            return cls(
                origin=str(data["origin"]),
                size=int(data["size"]),
                head=str(data["head"]),
                time_us=int(data["time_us"]),
                previous_signature=str(data["previous_signature"]),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed checkpoint: {exc}") from None


def checkpoint_message(origin: str, size: int, head: str, time_us: int, previous_signature: str) -> bytes:
    """The exact bytes an Ed25519 checkpoint signature covers (one field per line, trailing newline)."""
    lines = [CHECKPOINT_HEADER, origin, str(size), head, format_time(time_us), previous_signature]
    return ("\n".join(lines) + "\n").encode("utf-8")


class CheckpointSigner:
    """Signs checkpoints with the installation's audit key (``KeyStore.signing_key("audit")``)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public = PublicKey(public_key_bytes(key.public_key()))

    def sign(
        self, origin: str, size: int, head: str, time_us: int, previous: Checkpoint | None
    ) -> Checkpoint:
        previous_signature = previous.signature if previous is not None else NO_PREVIOUS
        message = checkpoint_message(origin, size, head, time_us, previous_signature)
        signature = base64.b64encode(self._key.sign(message)).decode()
        return Checkpoint(origin, size, head, time_us, previous_signature, self.public.key_id, signature)
