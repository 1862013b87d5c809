"""MetricStore under faults (issue 13): a full disk, a tiny filesystem, a deleted or
replaced database file. The disk tests run on a real 2 MB tmpfs (``tiny_fs``; skipped
with a message when mounting is not permitted)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from foresight.store.metric_store import MetricStore

T0 = 1_800_000_000.0
METRICS = 30  # about what the live sampler stores per tick


def tick(i: int) -> dict[str, float]:
    return {f"metric_{k:02d}": float((i * 7 + k) % 101) + 0.25 for k in range(METRICS)}


def values_per_timestamp(store: MetricStore) -> dict[float, int]:
    return {ts: len(values) for ts, values in store.raw_rows(-1e18, 1e18)}


def wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_failed_commit_raises_the_real_error_and_writes_nothing_half(tiny_fs) -> None:
    """Before: the failed COMMIT's ROLLBACK raised "cannot rollback - no transaction is
    active", hiding "database or disk is full" (two tracebacks per tick)."""
    with MetricStore(tiny_fs.path / "foresight.db") as store:
        for i in range(5):
            store.append(T0 + i, tick(i))
        tiny_fs.fill()
        error: sqlite3.Error | None = None
        i = 5
        for i in range(5, 200):  # the WAL's free frames absorb a few ticks first
            try:
                store.append(T0 + i, tick(i))
            except sqlite3.Error as exc:
                error = exc
                break
        assert error is not None, "200 ticks were written to a full 2 MB filesystem"
        assert "full" in str(error), error
        assert "rollback" not in str(error).lower()
        assert not store._conn().in_transaction
        # Nothing half-written: every stored tick has all its values, the failed one none.
        counts = values_per_timestamp(store)
        assert set(counts.values()) == {METRICS}
        assert T0 + i not in counts
        tiny_fs.free()
        assert store.append(T0 + i, tick(i)) == METRICS  # space is back: writes resume
        assert store.integrity_check() == "ok"
        assert values_per_timestamp(store)[T0 + i] == METRICS


def test_wal_stays_bounded_on_a_tiny_filesystem(tiny_fs) -> None:
    """Before: SQLite's 1,000-page autocheckpoint (~4 MB) never fired on a 2 MB
    filesystem; the WAL filled it after ~80 ticks of 30 metrics."""
    path = tiny_fs.path / "foresight.db"
    with MetricStore(path) as store:
        assert store.wal_autocheckpoint_pages < 1000
        bound = 2 * store.wal_autocheckpoint_pages * 4096 + 256 * 1024  # + a tick's pages
        biggest = 0
        for i in range(1500):
            store.append(T0 + i, tick(i))
            biggest = max(biggest, wal_bytes(path))
        assert biggest <= bound, f"WAL reached {biggest} bytes (bound {bound})"
        assert store.stats()["values"] == 1500 * METRICS
        assert store.checkpoint()["busy"] == 0
        assert wal_bytes(path) == 0  # TRUNCATE leaves an empty WAL
        store.append(T0 + 1500, tick(1500))  # and writing carries on after it
    with MetricStore(path) as again:
        assert len(values_per_timestamp(again)) == 1501


def test_wal_policy_is_sqlite_default_on_a_normal_disk(store: MetricStore) -> None:
    if shutil.disk_usage(store.path.parent).total < 1 << 30:
        pytest.skip("the test directory is on a filesystem under 1 GB")
    assert store.wal_autocheckpoint_pages == 1000
    conn = store._conn()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    assert conn.execute("PRAGMA journal_size_limit").fetchone()[0] == 1000 * 4096


def test_unchanged_file_is_left_alone(store: MetricStore) -> None:
    store.append(T0, tick(0))
    assert store.ensure_file() is None
    assert store.ensure_file() is None
    assert len(values_per_timestamp(store)) == 1


def test_deleted_data_dir_is_detected_and_a_fresh_database_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: after rm -rf of the data dir the store kept writing into the deleted
    file (size_bytes 0) and every sample was lost at restart."""
    data = tmp_path / "data"
    path = data / "foresight.db"
    store = MetricStore(path)
    store.append(T0, tick(0))
    other_thread: list[int] = []
    reader = threading.Thread(target=lambda: other_thread.append(len(store.metric_names())))
    reader.start()
    reader.join()  # a reader thread now holds its own connection to the old file
    shutil.rmtree(data)
    with caplog.at_level("WARNING", logger="foresight.store"):
        change = store.ensure_file()
    assert change is not None and "deleted" in change and str(path) in change
    assert path.exists()
    assert any("fresh database" in r.getMessage() for r in caplog.records)
    store.append(T0 + 1, tick(1))
    assert store.ensure_file() is None  # the fresh file is now the open one
    result: list[dict[float, int]] = []
    reader = threading.Thread(target=lambda: result.append(values_per_timestamp(store)))
    reader.start()
    reader.join()
    assert result == [{T0 + 1: METRICS}]  # the old thread reads the new file too
    store.close()
    with MetricStore(path) as again:  # what was written after the reopen survived
        assert values_per_timestamp(again) == {T0 + 1: METRICS}


def test_replaced_database_is_detected_and_opened(tmp_path: Path) -> None:
    path = tmp_path / "data" / "foresight.db"
    with MetricStore(tmp_path / "backup" / "foresight.db") as backup:
        backup.append(T0 - 100, tick(0))
    with MetricStore(path) as store:
        store.append(T0, tick(1))
        os.replace(tmp_path / "backup" / "foresight.db", path)
        change = store.ensure_file()
        assert change is not None and "replaced" in change
        assert set(values_per_timestamp(store)) == {T0 - 100}
        store.append(T0 + 1, tick(2))
        assert store.integrity_check() == "ok"
    with MetricStore(path) as again:
        assert set(values_per_timestamp(again)) == {T0 - 100, T0 + 1}


def test_a_replacement_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "data" / "foresight.db"
    with MetricStore(path) as store:
        store.append(T0, tick(0))
        junk = tmp_path / "junk"
        junk.write_bytes(b"not a database" * 400)
        os.replace(junk, path)
        with pytest.raises(sqlite3.DatabaseError, match=r"replaced .* not a database"):
            store.ensure_file()
        with pytest.raises(sqlite3.DatabaseError):  # still failing, not silently "ok"
            store.ensure_file()


def test_opening_on_a_full_disk_says_the_disk_is_full(tiny_fs) -> None:
    from foresight.core.errors import InputError

    path = tiny_fs.path / "foresight.db"
    with MetricStore(path) as store:
        store.append(T0, tick(0))
    tiny_fs.fill()  # SQLite needs room for the -shm to open a WAL database
    with pytest.raises(InputError, match="its filesystem has 0 bytes free"):
        MetricStore(path)
    tiny_fs.free()
    with MetricStore(path) as store:
        assert len(values_per_timestamp(store)) == 1


def test_readers_on_other_threads_survive_repeated_reopens(tmp_path: Path) -> None:
    """Closing a connection another thread was reading from crashed the interpreter
    (segfault); readers must switch to the new file without one error."""
    data = tmp_path / "data"
    store = MetricStore(data / "foresight.db")
    store.append(T0, tick(0))
    errors: list[str] = []
    reads = [0] * 4
    started = threading.Barrier(len(reads) + 1)
    stop = threading.Event()

    def reader(index: int) -> None:
        store.metric_names()
        started.wait()
        while not stop.is_set():
            try:
                store.query(None, T0 - 1, T0 + 1e6, limit=50)
                store.stats()
                store.latest()
                reads[index] += 1
            except (sqlite3.Error, OSError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(len(reads))]
    for thread in threads:
        thread.start()
    started.wait()
    try:
        for k in range(10):
            shutil.rmtree(data)
            assert store.ensure_file() is not None
            for j in range(3):
                store.append(T0 + 10 * k + j + 1, tick(j))
            # Deleted again only after every reader has moved on (as a tick apart would).
            done = list(reads)
            deadline = time.monotonic() + 10
            while any(r <= d for r, d in zip(reads, done, strict=True)):
                assert time.monotonic() < deadline, "a reader stopped reading"
                time.sleep(0.001)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert all(reads)
    store.ensure_file()  # a last chance to close what the readers were holding
    assert store._pool._retired == []  # every connection to a deleted file is closed
    store.close()


def test_fault_log_is_one_line_per_error_then_summaries(caplog: pytest.LogCaptureFixture) -> None:
    from foresight.store.faults import StoreFaults

    faults = StoreFaults(summary_every_s=60.0)
    full, io = sqlite3.OperationalError("database or disk is full"), OSError(5, "I/O error")
    caplog.set_level("INFO", logger="foresight.store")
    for i in range(50):  # alternating errors: each is logged once, not every tick
        faults.failed(T0 + i, full if i % 2 else io)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "store write failed: [Errno 5] I/O error",
        "store write failed: database or disk is full",
    ]
    state = faults.to_dict()
    assert state["ok"] is False and state["since"] == T0 and state["not_stored"] == 50
    assert state["error"] == "database or disk is full"
    faults.failed(T0 + 61, full)
    assert "still failing" in caplog.records[-1].getMessage()
    assert "51 since" in caplog.records[-1].getMessage()
    faults.succeeded(T0 + 62)
    assert "resumed: 51 samples" in caplog.records[-1].getMessage()
    faults.succeeded(T0 + 63)
    assert len(caplog.records) == 4
    state = faults.to_dict()
    assert state["ok"] is True and state["error"] is None and state["failed_writes"] == 51
    assert state["last_fault"] == {
        "error": "database or disk is full",
        "code": None,
        "since": T0,
        "until": T0 + 62,
        "not_stored": 51,
    }
