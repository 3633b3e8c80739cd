"""Building the audit store and sink from the configuration (used by the server and the CLI)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from voiceguard.audit.postgres import PostgresStore
from voiceguard.audit.sqlite import SqliteStore
from voiceguard.audit.store import AuditStore
from voiceguard.config import ConfigError, Settings


class AuditDisabled(ConfigError):
    """``audit.store`` is ``off``: there is no log to open."""


def open_store(settings: Settings, env: Mapping[str, str] | None = None) -> AuditStore:
    """The configured store, not yet opened; raises ``AuditDisabled`` or ``ConfigError``."""
    audit = settings.audit
    env = os.environ if env is None else env
    if audit.store == "off":
        raise AuditDisabled("the audit log is off (audit.store: off)")
    if audit.store == "postgres":
        dsn = audit.postgres_dsn or env.get(audit.postgres_dsn_env)
        if not dsn:
            raise ConfigError(
                f"audit.store is postgres but neither audit.postgres_dsn nor ${audit.postgres_dsn_env} is set"
            )
        return PostgresStore(dsn, audit.postgres_schema, timeout_s=audit.store_timeout_seconds)
    path = audit.sqlite_path or settings.data_dir / "audit.sqlite3"
    return SqliteStore(path, synchronous=audit.sqlite_synchronous, timeout_s=audit.store_timeout_seconds)
