"""The consent registry of one proxy process: the store, a cache of the subjects on live calls, and changes.

Guards never wait on a store. When a call starts, the proxy awaits ``attach``: it hashes the caller, and
loads that subject's records unless a live call of the same subject already did. Every call of the subject
shares one ``SubjectConsent``; when consent changes the registry reloads it in place, so the change reaches
calls already running on their next event:

- a change made through this process (admin API) is reloaded before the API answers;
- a change made by another replica is seen by polling the store's change log every ``refresh_seconds``,
  and at once where the store pushes notifications (PostgreSQL ``LISTEN``/``NOTIFY``).

Every change is handed to the audit trail (``ConsentAudit``) with the subject only as its keyed hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Mapping
from typing import Final, Protocol, runtime_checkable

import structlog

from voiceguard.audit.canonical import JsonValue
from voiceguard.consent.model import (
    CALL_CONSENT,
    ConsentRecord,
    ConsentSlot,
    Purpose,
    SubjectConsent,
    new_consent_id,
    now_utc,
)
from voiceguard.consent.requests import GrantRequest, WithdrawRequest
from voiceguard.consent.store import ChangeKind, ConsentChange, ConsentStore, ConsentStoreError, Withdrawal
from voiceguard.session import Call

log = structlog.get_logger("voiceguard.consent")

LOAD_TIMEOUT_S: Final = 2.0
AUDIT_KINDS: Final = {ChangeKind.GRANTED: "consent.granted", ChangeKind.WITHDRAWN: "consent.revoked"}
READINESS_COMPONENT: Final = "consent"


class ConsentAudit(Protocol):
    """Where consent changes are recorded (the audit log's ``append``)."""

    async def append(self, kind: str, fields: Mapping[str, JsonValue]) -> None: ...


@runtime_checkable
class NotifyingStore(Protocol):
    """A store that pushes the subject of every change made by any replica."""

    async def listen(self, on_subject: Callable[[str], None]) -> None: ...


class ConsentRegistry:
    """Consent records for the proxy: reads through a per-subject cache, writes through to the store."""

    def __init__(
        self,
        store: ConsentStore,
        subject_hash: Callable[[str], str],
        *,
        refresh_seconds: float = 2.0,
        audit: ConsentAudit | None = None,
        on_problem: Callable[[str | None], None] | None = None,
    ) -> None:
        self.store = store
        self.subject_hash = subject_hash
        self.refresh_seconds = refresh_seconds
        self.audit = audit
        self._on_problem = on_problem or (lambda _problem: None)
        self._views: weakref.WeakValueDictionary[str, SubjectConsent] = weakref.WeakValueDictionary()
        self._loading: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._seq = 0
        self._generation = 0

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.open()
        self._seq = await self.store.last_seq()
        if isinstance(self.store, NotifyingStore):
            try:
                await self.store.listen(self._notified)
            except ConsentStoreError as exc:
                log.warning("consent_listen_failed", error=str(exc), fallback="polling")
        self._poller = asyncio.create_task(self._poll_forever(), name="voiceguard-consent-poll")

    async def close(self) -> None:
        tasks = [t for t in (self._poller, *self._tasks, *self._loading.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.store.close()

    # --- calls --------------------------------------------------------------------------------------------

    async def attach(self, call: Call) -> SubjectConsent | None:
        """Give ``call`` its subject's consent view, loading it if no live call has; never raises."""
        if call.subject is None:
            return None
        slot = call.scratch(CALL_CONSENT, ConsentSlot)
        view = slot.view
        if view is None:
            view = slot.view = self._view(self.subject_hash(call.subject))
        if not view.loaded:
            await self._load(view)
        return view

    def _view(self, subject_hash: str) -> SubjectConsent:
        view = self._views.get(subject_hash)
        if view is None:
            view = SubjectConsent(subject_hash)
            self._views[subject_hash] = view
        return view

    async def _load(self, view: SubjectConsent) -> None:
        """Load (or reload) one subject's records; concurrent loads of one subject share one query."""
        pending = self._loading.get(view.subject_hash)
        if pending is None:
            pending = asyncio.create_task(self._reload(view))
            self._loading[view.subject_hash] = pending
            pending.add_done_callback(lambda _t: self._loading.pop(view.subject_hash, None))
        await asyncio.shield(pending)

    async def _reload(self, view: SubjectConsent) -> None:
        """Read the subject's records; a read that started before a later one never overwrites it."""
        self._generation += 1
        generation = self._generation
        try:
            async with asyncio.timeout(LOAD_TIMEOUT_S):
                records = await self.store.records(view.subject_hash)
        except (ConsentStoreError, TimeoutError) as exc:
            message = str(exc) or "the consent store did not answer in time"
            if generation > view.generation:
                view.generation = generation
                view.fail(message)
            log.error("consent_load_failed", error=message, effect="treated as no consent")
            return
        if generation > view.generation:
            view.generation = generation
            view.replace(tuple(records))

    # --- changes from elsewhere ------------------------------------------------------------------------

    def _notified(self, subject_hash: str) -> None:
        view = self._views.get(subject_hash)
        if view is not None:
            task = asyncio.get_running_loop().create_task(self._reload(view))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def poll_once(self) -> None:
        """Apply every change logged since the last poll (by any replica) to the live calls' views."""
        changes = await self.store.changes_since(self._seq)
        for subject_hash in dict.fromkeys(change.subject_hash for change in changes):
            view = self._views.get(subject_hash)
            if view is not None:
                await self._reload(view)
        if changes:
            self._seq = changes[-1].seq

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.poll_once()
            except ConsentStoreError as exc:
                self._on_problem(f"consent store unreachable: {exc}")
                log.error("consent_poll_failed", error=str(exc))
            else:
                self._on_problem(None)

    # --- admin --------------------------------------------------------------------------------------------

    async def grant(self, request: GrantRequest, actor: str) -> ConsentRecord:
        now = now_utc()
        granted = request.granted_at or now
        record = ConsentRecord(
            id=new_consent_id(),
            subject_hash=self.subject_hash(request.subject),
            purpose=request.purpose,
            jurisdiction=request.jurisdiction,
            notice_version=request.notice_version,
            notice_sha256=request.notice_sha256,
            signature=request.signature,
            granted_at=granted,
            evidence_ref=request.evidence_ref,
            expires_at=request.expiry(granted),
        )
        change = await self.store.insert(record)
        await self._applied([(record, change)], actor)
        return record

    async def withdraw(self, request: WithdrawRequest, actor: str) -> list[ConsentRecord]:
        withdrawal = Withdrawal(
            at=now_utc(),
            consent_id=request.consent_id,
            subject_hash=self.subject_hash(request.subject) if request.subject else None,
            purpose=request.purpose,
            reason=request.reason,
        )
        changed = await self.store.withdraw(withdrawal)
        await self._applied(changed, actor)
        return [record for record, _change in changed]

    async def search(
        self, subject: str | None = None, purpose: Purpose | None = None, include_withdrawn: bool = False
    ) -> list[ConsentRecord]:
        subject_hash = self.subject_hash(subject) if subject else None
        return await self.store.search(subject_hash, purpose, include_withdrawn)

    async def _applied(self, changed: list[tuple[ConsentRecord, ConsentChange]], actor: str) -> None:
        """Reload the live calls of the subjects changed, then record each change in the audit trail."""
        for subject_hash in dict.fromkeys(record.subject_hash for record, _ in changed):
            view = self._views.get(subject_hash)
            if view is not None:
                await self._reload(view)
        if self.audit is None:
            return
        for record, change in changed:
            try:
                await self.audit.append(AUDIT_KINDS[change.kind], audit_fields(record, change, actor))
            except Exception:
                log.exception("consent_audit_failed", consent_id=record.id)


def audit_fields(record: ConsentRecord, change: ConsentChange, actor: str) -> dict[str, JsonValue]:
    """What the audit trail keeps of a change: ids, hashes, versions and times, never the subject itself."""
    return {
        "consent_id": record.id,
        "subject_hash": record.subject_hash,
        "purpose": record.purpose.value,
        "jurisdiction": record.jurisdiction,
        "notice_version": record.notice_version,
        "notice_sha256": record.notice_sha256,
        "signature": record.signature.value,
        "evidence_ref": record.evidence_ref,
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "record_digest": record.digest(),
        "change_seq": change.seq,
        "at": change.at.isoformat(),
        "actor": actor,
    }
