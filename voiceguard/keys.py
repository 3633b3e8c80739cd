"""Key material under the data directory: one master key, and named keys encrypted under it.

Who uses it: subject hashing (the caller is stored only as a keyed HMAC), the pseudonym map of the PII guard,
the audit log's Ed25519 signing key. The master key comes from ``VOICEGUARD_MASTER_KEY`` (32 bytes,
base64) when set — the way to keep it out of the data directory, e.g. from a secret store — else from
``<data_dir>/keys/master.key``, created on first use. Every file is written 0600 inside a 0700 directory,
and a key file that others can read is refused rather than used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_ENV: Final = "VOICEGUARD_MASTER_KEY"
KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_FORMAT: Final = b"vgk1"


class KeyError_(Exception):
    """Key material is missing, unreadable, too widely readable, or does not decrypt."""


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyError_(f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}")


def _check_private_directory(path: Path) -> None:
    """Others who can write the key directory could swap a key in; others who can list it learn key names."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyError_(f"{path} is open to others (mode {mode:o}); run: chmod 700 {path}")


def _create_private_once(path: Path, data: bytes) -> bytes:
    """Create ``path`` holding ``data`` unless another process got there first; returns what it holds.

    Replicas sharing a data directory may start at the same moment: linking a finished temporary file into
    place fails if the key already exists, so every process ends up with the one key that won.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    return path.read_bytes()


class KeyStore:
    """Named keys of one voiceguard installation (shared by every replica that shares the data directory)."""

    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.directory = data_dir / "keys"
        if self.directory.exists():
            _check_private_directory(self.directory)
        env = os.environ if env is None else env
        self._master = self._load_master(env.get(MASTER_KEY_ENV))
        self._cache: dict[str, bytes] = {}

    def _load_master(self, from_env: str | None) -> bytes:
        if from_env:
            try:
                key = base64.b64decode(from_env, validate=True)
            except ValueError as exc:
                raise KeyError_(f"{MASTER_KEY_ENV} is not valid base64") from exc
            if len(key) != KEY_BYTES:
                raise KeyError_(f"{MASTER_KEY_ENV} must decode to {KEY_BYTES} bytes, got {len(key)}")
            return key
        path = self.directory / "master.key"
        if path.exists():
            _check_private(path)
            key = path.read_bytes()
            if len(key) != KEY_BYTES:
                raise KeyError_(f"{path} does not hold a {KEY_BYTES}-byte key")
            return key
        return _create_private_once(path, os.urandom(KEY_BYTES))

    # --- encryption at rest -----------------------------------------------------------------------------

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        """Encrypt under the master key; ``purpose`` is bound in, so a blob cannot be reused elsewhere."""
        nonce = os.urandom(_NONCE_BYTES)
        return _FORMAT + nonce + AESGCM(self._master).encrypt(nonce, plaintext, purpose.encode())

    def open(self, sealed: bytes, purpose: str) -> bytes:
        if not sealed.startswith(_FORMAT):
            raise KeyError_("not a voiceguard sealed blob")
        nonce = sealed[len(_FORMAT) : len(_FORMAT) + _NONCE_BYTES]
        try:
            return AESGCM(self._master).decrypt(
                nonce, sealed[len(_FORMAT) + _NONCE_BYTES :], purpose.encode()
            )
        except Exception as exc:
            raise KeyError_(f"cannot decrypt {purpose}: wrong master key or tampered data") from exc

    # --- named keys -------------------------------------------------------------------------------------

    def secret(self, name: str) -> bytes:
        """A named 32-byte secret, created on first use and stored sealed under the master key."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        path = self.directory / f"{name}.key"
        if path.exists():
            _check_private(path)
            key = self.open(path.read_bytes(), f"key:{name}")
        else:
            sealed = _create_private_once(path, self.seal(os.urandom(KEY_BYTES), f"key:{name}"))
            key = self.open(sealed, f"key:{name}")
        self._cache[name] = key
        return key

    @staticmethod
    def has_signing_key(data_dir: Path, name: str) -> bool:
        """Whether a named signing key exists, without creating anything (for read-only tools)."""
        return (data_dir / "keys" / f"ed25519-{name}.key").exists()

    def signing_key(self, name: str) -> Ed25519PrivateKey:
        """A named Ed25519 key (its 32-byte seed is a sealed secret)."""
        return Ed25519PrivateKey.from_private_bytes(self.secret(f"ed25519-{name}"))

    def subject_hash(self, subject: str) -> str:
        """The keyed hash under which a caller is stored: stable per installation, useless without the key."""
        digest = hmac.new(self.secret("subject"), subject.strip().encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()
