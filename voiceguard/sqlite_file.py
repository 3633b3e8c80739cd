"""One SQLite file used from the event loop: each unit of work runs in a worker thread, one at a time.

Shared by the stores that keep a local SQLite file (consent records, the artefact index). The connection is
in autocommit mode (``isolation_level=None``) so a unit of work states its own ``BEGIN IMMEDIATE`` and
``COMMIT``; WAL with ``synchronous=FULL`` so a committed row survives a power cut. Every SQLite error
becomes the store's own error type, naming the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class SqliteFile:
    """A lazily opened connection to ``path``, serialised by a lock, errors raised as ``error``."""

    def __init__(
        self, path: Path, what: str, error: Callable[[str], Exception], timeout: float = 10.0
    ) -> None:
        self.path = path
        self.what = what
        self._error = error
        self._timeout = timeout
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self, schema: str) -> None:
        def connect() -> sqlite3.Connection:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=self._timeout
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(schema)
            return db

        try:
            self._db = await asyncio.to_thread(connect)
        except sqlite3.Error as exc:
            raise self._error(f"cannot open the {self.what} {self.path}: {exc}") from exc

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await asyncio.to_thread(db.close)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)`` in a worker thread, alone on the connection."""
        db = self._db
        if db is None:
            raise self._error(f"the {self.what} is not open")

        def locked() -> T:
            with self._lock:
                return work(db)

        try:
            return await asyncio.to_thread(locked)
        except sqlite3.Error as exc:
            raise self._error(f"{self.what} {self.path}: {exc}") from exc
