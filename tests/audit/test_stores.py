"""Both stores (a SQLite file and the machine's PostgreSQL) keep one linear chain, also under concurrency."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.audit.conftest import PG_DSN, StoreFactory, entry
from voiceguard.audit.chain import CheckpointSigner
from voiceguard.audit.record import RecordFilter
from voiceguard.audit.store import AuditStore
from voiceguard.audit.verify import verify_store


async def test_append_links_each_batch_to_the_head_and_reads_back_in_order(
    opened: AuditStore, signer: CheckpointSigner
) -> None:
    first = await opened.append([entry(1), entry(2)], signer, None, 10)
    second = await opened.append([entry(3)], signer, None, 11)
    assert first.head.size == 2 and second.head.size == 3
    rows = await opened.records(0, 10)
    assert [row.seq for row in rows] == [1, 2, 3]
    assert rows[2].prev == rows[1].hash == first.head.hash
    assert (await opened.head()).hash == rows[2].hash
    assert [row.seq for row in await opened.records(1, 10, through_seq=2)] == [2]
    assert opened.origin.startswith("voiceguard-audit/")


async def test_a_checkpoint_is_signed_in_the_append_that_reaches_the_threshold(
    opened: AuditStore, signer: CheckpointSigner
) -> None:
    assert (await opened.append([entry(1), entry(2)], signer, 3, 10)).checkpoint is None
    result = await opened.append([entry(3), entry(4)], signer, 3, 11)
    assert result.checkpoint is not None and result.checkpoint.size == 4
    assert result.checkpoint.verify(signer.public)
    assert await opened.checkpoint(signer, 12) is None  # the head is already covered
    await opened.append([entry(5)], signer, 3, 13)
    sealed = await opened.checkpoint(signer, 14)
    assert (
        sealed is not None and sealed.size == 5 and sealed.previous_signature == result.checkpoint.signature
    )
    assert [c.size for c in await opened.checkpoints(0, 10)] == [4, 5]
    covering = await opened.checkpoint_covering(2)
    before = await opened.checkpoint_before(5)
    assert covering is not None and covering.size == 4
    assert before is not None and before.size == 4


async def test_filters_select_by_time_range_and_call(opened: AuditStore, signer: CheckpointSigner) -> None:
    batch = [entry(n, call_id=f"call-{n % 2}", time_us=1000 + n) for n in range(1, 11)]
    await opened.append(batch, signer, None, 1)
    assert await opened.count(RecordFilter(call_id="call-1")) == 5
    assert await opened.count(RecordFilter(since_us=1003, until_us=1006)) == 3
    assert await opened.next_match(0, RecordFilter(call_id="call-0")) == 2
    assert await opened.next_match(8, RecordFilter(call_id="call-0", since_us=1005)) == 10
    assert await opened.next_match(10, RecordFilter()) is None


async def test_concurrent_writers_on_separate_connections_keep_one_verifiable_chain(
    new_store: StoreFactory, signer: CheckpointSigner
) -> None:
    stores = [new_store() for _ in range(4)]
    for store in stores:
        await store.open()

    async def writer(store: AuditStore, writer_id: int) -> None:
        for batch in range(10):
            entries = [entry(batch * 10 + i, call_id=f"writer-{writer_id}") for i in range(5)]
            await store.append(entries, signer, 25, batch)

    try:
        await asyncio.gather(*(writer(store, index) for index, store in enumerate(stores)))
        await stores[0].checkpoint(signer, 99)
        report = await verify_store(stores[0], [signer.public])
    finally:
        for store in stores:
            await store.close()
    assert report.ok, report.failure
    assert report.records == 200 and report.signed_through == 200 and report.checkpoints >= 8


_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from voiceguard.audit.chain import CheckpointSigner
    from voiceguard.audit.postgres import PostgresStore
    from voiceguard.audit.record import make_entry
    from voiceguard.audit.sqlite import SqliteStore
    from voiceguard.keys import KeyStore

    kind, where, data_dir, name = sys.argv[1:5]
    signer = CheckpointSigner(KeyStore(Path(data_dir), env={}).signing_key("audit"))

    async def main():
        store = SqliteStore(Path(where)) if kind == "sqlite" else PostgresStore(sys.argv[5], where)
        await store.open()
        for batch in range(20):
            entries = [
                make_entry("request", {"n": i}, time_us=1, call_id=name, source=name) for i in range(5)
            ]
            await store.append(entries, signer, 50, batch)
        await store.close()

    asyncio.run(main())
    """
)


@pytest.mark.slow
def test_writer_processes_appending_at_once_keep_one_verifiable_chain(
    store_kind: str, tmp_path: Path, pg_schema: str, new_store: StoreFactory, signer: CheckpointSigner
) -> None:
    where = str(tmp_path / "audit.sqlite3") if store_kind == "sqlite" else pg_schema
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, store_kind, where, str(tmp_path / "data"), f"process-{n}", PG_DSN]
        )
        for n in range(3)
    ]
    assert [process.wait(timeout=60) for process in processes] == [0, 0, 0]

    async def check() -> None:
        store = new_store()
        try:
            report = await verify_store(store, [signer.public])
            assert report.ok, report.failure
            assert report.records == 300 and report.signed_through == 300
            for n in range(3):
                assert await store.count(RecordFilter(call_id=f"process-{n}")) == 100
        finally:
            await store.close()

    asyncio.run(check())
