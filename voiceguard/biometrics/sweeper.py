"""The retention sweeper: destroys due artefacts on time and records each destruction in the audit trail."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from voiceguard.audit.canonical import JsonValue
from voiceguard.biometrics.artefacts import Artefact, ArtefactError, ArtefactStore
from voiceguard.consent.registry import ConsentAudit

log = structlog.get_logger("voiceguard.retention")

DESTROYED_KIND = "retention.destroyed"


def destruction_fields(artefact: Artefact) -> dict[str, JsonValue]:
    """What the audit trail keeps of a destruction: ids, hash, rule and times, never the content."""
    return {
        "artefact_id": artefact.id,
        "artefact_kind": artefact.kind,
        "sha256": artefact.sha256,
        "size": artefact.size,
        "subject_hash": artefact.subject_hash,
        "jurisdiction": artefact.jurisdiction,
        "rule_id": artefact.rule_id,
        "destroy_at": artefact.destroy_at.isoformat(),
        "destroyed_at": artefact.destroyed_at.isoformat() if artefact.destroyed_at else None,
    }


class RetentionSweeper:
    """Runs ``ArtefactStore.sweep`` every ``interval_s`` seconds in a task it owns."""

    def __init__(self, store: ArtefactStore, interval_s: float, audit: ConsentAudit | None = None) -> None:
        self.store = store
        self.interval_s = interval_s
        self.audit = audit
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.open()
        self._task = asyncio.create_task(self._forever(), name="voiceguard-retention-sweeper")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.store.close()

    async def sweep_once(self) -> list[Artefact]:
        destroyed = await self.store.sweep()
        for artefact in destroyed:
            fields = destruction_fields(artefact)
            log.info(DESTROYED_KIND, **fields)
            if self.audit is not None:
                try:
                    await self.audit.append(DESTROYED_KIND, fields)
                except Exception:
                    log.exception("retention_audit_failed", artefact_id=artefact.id)
        return destroyed

    async def _forever(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except ArtefactError as exc:
                log.error("retention_sweep_failed", error=str(exc))
            await asyncio.sleep(self.interval_s)
