"""Building the consent registry a proxy process uses, from its settings."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Final

from voiceguard.config import Settings
from voiceguard.consent.postgres import PostgresConsentStore
from voiceguard.consent.registry import ConsentAudit, ConsentRegistry
from voiceguard.consent.sqlite import SqliteConsentStore
from voiceguard.consent.store import ConsentStore, ConsentStoreError
from voiceguard.keys import KeyStore

SQLITE_FILE: Final = "consent.sqlite3"


def build_store(settings: Settings, env: Mapping[str, str] | None = None) -> ConsentStore:
    """The configured store: SQLite under the data directory, or PostgreSQL from the DSN variable."""
    config = settings.consent
    if config.store == "sqlite":
        return SqliteConsentStore(settings.data_dir / SQLITE_FILE)
    env = os.environ if env is None else env
    dsn = env.get(config.postgres_dsn_env)
    if not dsn:
        raise ConsentStoreError(f"consent.store is postgres but {config.postgres_dsn_env} is not set")
    return PostgresConsentStore(dsn, config.postgres_schema)


def build_registry(
    settings: Settings,
    keys: KeyStore,
    *,
    audit: ConsentAudit | None = None,
    on_problem: Callable[[str | None], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> ConsentRegistry:
    return ConsentRegistry(
        build_store(settings, env),
        keys.subject_hash,
        refresh_seconds=settings.consent.refresh_seconds,
        audit=audit,
        on_problem=on_problem,
    )
