"""Pseudonyms for one call: numbered placeholders sent upstream, and the way back to the real values.

``<CREDIT_CARD_1>`` goes to the LLM vendor; the real number stays here, sealed (AES-GCM through
``KeyStore.seal`` with the call bound into the purpose), found again by a keyed hash, and forgotten after
``ttl_s`` without use or when the call ends. The same value gets the same placeholder for the whole call —
"4111 1111 1111 1111" and "four one one one …" included — so the model can reason about "the card" across
turns, and a history the client re-sends is pseudonymised the same way each time.

Unlike LLM Guard's vault (a plaintext list shared across calls, REFERENCE-compliance.md §2), nothing here
holds a value in clear, and one vault never serves two calls.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voiceguard.pii.entities import NUMERIC_ENTITIES
from voiceguard.pii.spoken import normalise

PLACEHOLDER: Final = re.compile(r"<([A-Z][A-Z0-9_]*?)_(\d{1,6})>")
MAX_PLACEHOLDER_CHARS: Final = 40
"""No placeholder voiceguard writes is longer; a stream never holds back more than this to restore one."""


class Sealer(Protocol):
    """Authenticated encryption bound to a purpose (``voiceguard.keys.KeyStore`` is one)."""

    def seal(self, plaintext: bytes, purpose: str) -> bytes: ...

    def open(self, sealed: bytes, purpose: str) -> bytes: ...


class EphemeralSealer:
    """A process-lifetime key, for when no key store is configured (tests, a guard used on its own)."""

    def __init__(self) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, purpose.encode())

    def open(self, sealed: bytes, purpose: str) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], purpose.encode())


@dataclass(slots=True)
class _Entry:
    sealed: bytes
    expires: float


def canonical(entity_type: str, value: str) -> str:
    """What makes two mentions the same value: the digits of a number, the folded text of the rest."""
    if entity_type in NUMERIC_ENTITIES:
        digits = "".join(ch for ch in normalise(value).text if ch.isdigit())
        if digits:
            return digits
    return " ".join(value.casefold().split())


class PseudonymVault:
    """The placeholders of one call (bounded: ``max_entries``; when full, callers redact instead)."""

    def __init__(
        self,
        sealer: Sealer,
        purpose: str,
        *,
        ttl_s: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sealer = sealer
        self._purpose = purpose
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._hash_key = os.urandom(32)
        self._by_value: dict[bytes, str] = {}
        self._entries: dict[str, _Entry] = {}
        self._counters: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def pseudonym(self, entity_type: str, value: str) -> str | None:
        """The placeholder for ``value`` (the same one every time), or ``None`` when the vault is full."""
        now = self._clock()
        self._expire(now)
        key = hmac.new(
            self._hash_key, f"{entity_type}\x00{canonical(entity_type, value)}".encode(), hashlib.sha256
        ).digest()
        placeholder = self._by_value.get(key)
        if placeholder is not None:
            self._entries[placeholder].expires = now + self._ttl
            return placeholder
        if len(self._entries) >= self._max:
            return None
        number = self._counters.get(entity_type, 0) + 1
        self._counters[entity_type] = number
        placeholder = f"<{entity_type}_{number}>"
        self._entries[placeholder] = _Entry(self._sealer.seal(value.encode(), self._purpose), now + self._ttl)
        self._by_value[key] = placeholder
        return placeholder

    def original(self, placeholder: str) -> str | None:
        """The value behind a placeholder of this call, or ``None`` (unknown, or expired)."""
        now = self._clock()
        entry = self._entries.get(placeholder)
        if entry is None or entry.expires <= now:
            return None
        entry.expires = now + self._ttl
        return self._sealer.open(entry.sealed, self._purpose).decode()

    def restore(self, text: str, escape: Callable[[str], str] | None = None) -> tuple[str, dict[str, int]]:
        """Put the real values back for every placeholder of this call in ``text``; counts by type."""
        if "<" not in text or not self._entries:
            return text, {}
        counts: dict[str, int] = {}

        def replace(match: re.Match[str]) -> str:
            value = self.original(match.group())
            if value is None:
                return match.group()
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
            return escape(value) if escape is not None else value

        return PLACEHOLDER.sub(replace, text), counts

    def placeholders(self) -> Iterator[str]:
        return iter(self._entries)

    def _expire(self, now: float) -> None:
        expired = [name for name, entry in self._entries.items() if entry.expires <= now]
        if not expired:
            return
        for name in expired:
            del self._entries[name]
        gone = set(expired)
        self._by_value = {key: name for key, name in self._by_value.items() if name not in gone}
