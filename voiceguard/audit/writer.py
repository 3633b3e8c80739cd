"""The queue between the request path and the audit store, and the one task that drains it.

Group commit: the request path only appends to an in-memory queue and gets a ticket; the writer task takes
everything queued (up to ``batch_max_records``) and commits it in one store transaction, then wakes every
waiter whose ticket it covered. While one commit runs the next batch gathers, so many concurrent requests
share one commit and the store sees a few transactions per second, not one per request.

When the store fails, the batch stays queued and the writer retries with backoff. The queue is bounded:
beyond ``queue_max_records`` new records are dropped and counted, and once the store takes records again the
number dropped is itself written to the log, so the gap is on record. Waiters are released at once when the
store is down (fail open: traffic goes on), or keep waiting until their timeout when ``fail_closed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

import structlog

from voiceguard.audit.chain import Checkpoint, CheckpointSigner
from voiceguard.audit.record import Entry
from voiceguard.audit.store import AuditStore, StoreUnavailable
from voiceguard.config import AuditConfig

log = structlog.get_logger("voiceguard.audit")

RETRY_MIN_S: Final = 0.05
RETRY_MAX_S: Final = 2.0


class WriterObserver(Protocol):
    """What the writer reports (to metrics, readiness and logs), so it stays free of telemetry."""

    def committed(self, records: int, seconds: float, checkpoint: Checkpoint | None) -> None: ...

    def failed(self, error: StoreUnavailable, queued: int) -> None: ...

    def recovered(self) -> None: ...

    def dropped(self, queued: int) -> None: ...

    def dropped_report(self, count: int, first_us: int, last_us: int) -> Entry:
        """The record that puts a gap of ``count`` dropped records on the log."""
        ...


class AuditWriter:
    """Owns the queue, the waiters and the writer task."""

    def __init__(
        self,
        store: AuditStore,
        signer: CheckpointSigner,
        config: AuditConfig,
        observer: WriterObserver,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self.store = store
        self._signer = signer
        self._config = config
        self._observer = observer
        self._clock_us = clock_us
        self._queue: deque[Entry] = deque()
        self._tickets = itertools.count(1)
        self._issued = 0
        self._committed = 0
        self._waiters: list[tuple[int, int, asyncio.Future[bool]]] = []
        self._waiter_ids = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_checkpoint_at = time.monotonic()
        self._uncovered = False
        self._checkpoint_requests: list[asyncio.Future[None]] = []
        self._dropped = 0
        self._dropped_first_us = 0
        self._dropped_last_us = 0
        self.healthy = True
        self.last_error: str | None = None

    # --- request path -------------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def last_ticket(self) -> int:
        """The ticket of the newest record handed over (waiting for it covers everything before it)."""
        return self._issued

    def submit(self, entry: Entry, *, force: bool = False) -> int | None:
        """Queue a record; returns its ticket, or ``None`` when the queue is full and it was dropped."""
        if not force and len(self._queue) >= self._config.queue_max_records:
            if self._dropped == 0:
                self._dropped_first_us = entry.time_us
            self._dropped += 1
            self._dropped_last_us = entry.time_us
            self._observer.dropped(len(self._queue))
            return None
        ticket = next(self._tickets)
        self._issued = ticket
        self._queue.append(entry.with_ticket(ticket))
        self._wake.set()
        return ticket

    async def wait_durable(self, ticket: int, timeout_s: float) -> bool:
        """True once the record ``ticket`` and all before it are committed; False on outage or timeout."""
        if ticket <= self._committed:
            return True
        if not self.healthy and not self._config.fail_closed:
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (ticket, next(self._waiter_ids), future))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            return False

    def _release(self, *, up_to: int | None) -> None:
        """Resolve waiters covered by ``up_to`` (True), or every waiter (False) when ``up_to`` is None."""
        while self._waiters and (up_to is None or self._waiters[0][0] <= up_to):
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(up_to is not None)

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="voiceguard-audit-writer")

    async def stop(self, timeout_s: float) -> int:
        """Commit what is queued and sign a final checkpoint; returns how many records could not be stored."""
        self._stopping = True
        self._wake.set()
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout_s)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        lost = len(self._queue)
        self._release(up_to=None)
        return lost

    # --- the writer task ----------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = RETRY_MIN_S
        while True:
            if not self._queue and not self._stopping and not self._checkpoint_requests:
                await self._idle()
            if self._stopping and not self._queue:
                if await self._attempt(self._checkpoint):
                    return
                succeeded = False
            else:
                succeeded = await self._attempt(self._step)
            if succeeded:
                delay = RETRY_MIN_S
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _idle(self) -> None:
        self._wake.clear()
        timeout = None
        if self._uncovered:
            elapsed = time.monotonic() - self._last_checkpoint_at
            timeout = max(0.0, self._config.checkpoint_interval_seconds - elapsed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _attempt(self, work: Callable[[], Awaitable[None]]) -> bool:
        try:
            await work()
        except StoreUnavailable as exc:
            self.mark_down(exc)
            return False
        if not self.healthy:
            self.healthy = True
            self.last_error = None
            self._observer.recovered()
        if self._dropped:
            report = self._observer.dropped_report(
                self._dropped, self._dropped_first_us, self._dropped_last_us
            )
            self._dropped = 0
            self.submit(report, force=True)
        return True

    def mark_down(self, error: StoreUnavailable) -> None:
        self.healthy = False
        self.last_error = str(error)
        self._observer.failed(error, len(self._queue))
        if not self._config.fail_closed:
            self._release(up_to=None)

    async def _step(self) -> None:
        if self._queue:
            await self._commit()
        elif self._checkpoint_requests or (self._uncovered and self._checkpoint_due()):
            await self._checkpoint()

    def _checkpoint_due(self) -> bool:
        return time.monotonic() - self._last_checkpoint_at >= self._config.checkpoint_interval_seconds

    async def _commit(self) -> None:
        batch = list(itertools.islice(self._queue, self._config.batch_max_records))
        started = time.perf_counter()
        result = await self.store.append(
            batch, self._signer, self._config.checkpoint_every_records, self._clock_us()
        )
        for _ in batch:
            self._queue.popleft()
        self._committed = batch[-1].ticket
        self._uncovered = True
        if result.checkpoint is not None:
            self._checkpointed()
        self._observer.committed(len(batch), time.perf_counter() - started, result.checkpoint)
        self._release(up_to=self._committed)
        if self._checkpoint_due():
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        checkpoint = await self.store.checkpoint(self._signer, self._clock_us())
        self._checkpointed()
        if checkpoint is not None:
            self._observer.committed(0, 0.0, checkpoint)
        requests, self._checkpoint_requests = self._checkpoint_requests, []
        for request in requests:
            if not request.done():
                request.set_result(None)

    def _checkpointed(self) -> None:
        self._last_checkpoint_at = time.monotonic()
        self._uncovered = False

    async def checkpoint_now(self, timeout_s: float) -> bool:
        """Commit what is queued and sign the head (before an export, so the export is fully covered).

        Done by the writer task itself, because a store connection runs one operation at a time.
        """
        request: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._checkpoint_requests.append(request)
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(request), timeout_s)
        except TimeoutError:
            return False
        return True
