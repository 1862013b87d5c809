"""MetricStore: appends, downsampled reads, rollups, retention, JSON files, crash safety."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from foresight.core.errors import InputError
from foresight.store.json_io import export_history, import_history
from foresight.store.metric_store import MetricStore

T0 = 1_800_000_000.0  # a whole hour: rollup buckets align with it
ROOT = Path(__file__).resolve().parents[2]


def ticks(n: int, start: float = T0, step_s: float = 1.0) -> list[tuple[float, dict[str, float]]]:
    return [(start + i * step_s, {"cpu_percent": float(i % 100), "load1": 1.0}) for i in range(n)]


def test_append_and_query_raw(store: MetricStore) -> None:
    for ts, values in ticks(10):
        store.append(ts, values)
    got = store.query(["cpu_percent", "load1"], T0, T0 + 9, limit=100)
    assert got["cpu_percent"] == [(T0 + i, float(i)) for i in range(10)]
    assert store.metric_names() == ["cpu_percent", "load1"]
    assert store.latest() == {"cpu_percent": (T0 + 9, 9.0), "load1": (T0 + 9, 1.0)}


def test_nan_is_a_gap_and_first_write_wins(store: MetricStore) -> None:
    assert store.append(T0, {"a": 1.0, "b": math.nan, "c": math.inf}) == 1
    assert store.append(T0, {"a": 2.0}) == 0
    assert store.query(None, T0 - 1, T0 + 1) == {"a": [(T0, 1.0)]}


def test_a_partly_repeated_tick_adds_only_its_new_values(tmp_path: Path) -> None:
    with MetricStore(tmp_path / "a.db") as a, MetricStore(tmp_path / "b.db") as b:
        assert a.append(T0, {"a": 1.0}) == 1
        assert a.append(T0, {"a": 2.0, "b": 3.0, "c": math.nan}) == 1  # only b is new
        assert a.append(T0 + 1, {"a": 4.0, "b": 5.0}) == 2
        assert a.query(None, T0, T0 + 1) == {
            "a": [(T0, 1.0), (T0 + 1, 4.0)],
            "b": [(T0, 3.0), (T0 + 1, 5.0)],
        }
        b.append_many([(T0, {"a": 1.0, "b": 3.0}), (T0 + 1, {"a": 4.0, "b": 5.0})])
        sql = "SELECT res_s, name, ts, n, total, ts_total, lo, hi FROM rollup JOIN metric ON id = metric_id ORDER BY 1, 2, 3"
        assert a._conn().execute(sql).fetchall() == b._conn().execute(sql).fetchall()
        assert a.counts() == {"values": 4, "metrics": 2}
        assert a.counts() == {k: a.stats()[k] for k in ("values", "metrics")}


def test_unknown_metric_has_no_points(store: MetricStore) -> None:
    store.append(T0, {"a": 1.0})
    assert store.query(["a", "zzz"], T0, T0)["zzz"] == []


@pytest.mark.parametrize(
    "range_s,limit", [(300, 300), (3600, 100), (7200, 1000), (7200, 7), (1, 1), (0, 5), (86400, 50)]
)
def test_query_never_exceeds_limit(store: MetricStore, range_s: float, limit: int) -> None:
    store.append_many(ticks(7201))
    got = store.query(["cpu_percent"], T0, T0 + range_s, limit=limit)["cpu_percent"]
    assert 1 <= len(got) <= limit
    assert all(T0 - 60 <= t <= T0 + range_s + 60 for t, _ in got)
    assert [t for t, _ in got] == sorted(t for t, _ in got)


def test_explicit_step_buckets_are_means(store: MetricStore) -> None:
    store.append_many(ticks(100))
    got = store.query(["cpu_percent"], T0, T0 + 39.5, limit=1000, step_s=10)["cpu_percent"]
    assert got == [(T0 + 4.5, 4.5), (T0 + 14.5, 14.5), (T0 + 24.5, 24.5), (T0 + 34.5, 34.5)]


def test_query_rejects_bad_ranges(store: MetricStore) -> None:
    with pytest.raises(InputError, match="since must be <= until"):
        store.query(None, T0 + 1, T0)
    with pytest.raises(InputError, match="limit"):
        store.query(None, T0, T0 + 1, limit=0)


def test_series_is_a_regular_grid_with_nan_gaps(store: MetricStore) -> None:
    for ts, values in ticks(30):
        if not 10 <= ts - T0 < 20:  # a 10-s gap
            store.append(ts, values)
    ts, values = store.series("cpu_percent", T0, T0 + 29, 5.0)
    assert ts.tolist() == [T0 + 5 * i for i in range(6)]
    assert values[0] == pytest.approx(2.0) and values[1] == pytest.approx(7.0)
    assert np.isnan(values[2]) and np.isnan(values[3])
    assert values[5] == pytest.approx(27.0)
    _, missing = store.series("nope", T0, T0 + 10, 1.0)
    assert np.isnan(missing).all()


def test_series_from_rollups_equals_raw_means(store: MetricStore) -> None:
    store.append_many(ticks(7200))
    ts, values = store.series("cpu_percent", T0, T0 + 7199, 60.0)
    raw = np.array([i % 100 for i in range(7200)], dtype=float).reshape(-1, 60).mean(axis=1)
    assert len(ts) == 120
    np.testing.assert_allclose(values, raw)


def test_series_reads_the_last_bucket_whole_whatever_until(tmp_path: Path) -> None:
    """Bucket i holds [t_i, t_i + step) as documented: an ``until`` inside the last bucket
    only sets how many buckets there are, from raw values and from rollups alike."""
    with MetricStore(tmp_path / "r.db", retention_days=1.0) as store:
        store.append_many(ticks(3 * 3600, start=T0))
        full = store.series("cpu_percent", T0 + 7200, T0 + 7200 + 24, 5.0)[1]
        part = store.series("cpu_percent", T0 + 7200, T0 + 7200 + 21, 5.0)[1]
        assert len(part) == 5 and part[-1] == pytest.approx(22.0)  # 20..24, not 20..21
        np.testing.assert_array_equal(part, full)
        assert store.series("cpu_percent", T0, T0 + 9.5, 5.0)[1][-1] == pytest.approx(7.0)
        store.apply_retention(T0 + 86400 + 2 * 3600)  # the second hour: minute rollups
        _, hours = store.series("cpu_percent", T0 + 3600, T0 + 3600 + 150, 120.0)
        raw = [np.mean([(3600 + i) % 100 for i in range(b, b + 120)]) for b in (0, 120)]
        assert hours.tolist() == pytest.approx(raw)  # both buckets whole
        _, one = store.series("cpu_percent", T0 + 3600, T0 + 3600 + 130, 120.0)
        np.testing.assert_array_equal(one, hours)
        # a value at the last bucket's end is the next bucket's
        assert store.series("cpu_percent", T0 + 7200, T0 + 7200 + 4, 5.0)[1][0] == 2.0


def test_tick_by_tick_and_bulk_rollups_agree(tmp_path: Path) -> None:
    rows = ticks(400, start=T0 + 17.5)
    with MetricStore(tmp_path / "a.db") as a, MetricStore(tmp_path / "b.db") as b:
        for ts, values in rows:
            a.append(ts, values)
        b.append_many(rows)
        b.append_many(rows[:50])  # a repeat adds nothing and changes no rollup
        sql = "SELECT res_s, metric_id, ts, n, total, ts_total, lo, hi FROM rollup ORDER BY 1,2,3"
        assert a._conn().execute(sql).fetchall() == b._conn().execute(sql).fetchall()
        assert a.stats()["values"] == b.stats()["values"] == 800


def test_retention_keeps_rollups_for_old_ranges(tmp_path: Path) -> None:
    with MetricStore(tmp_path / "r.db", retention_days=1.0) as store:
        store.append_many(ticks(3 * 3600, start=T0))
        removed = store.apply_retention(T0 + 86400 + 2 * 3600)
        assert removed["raw"] == 2 * 3600 * 2  # two hours of two metrics
        # the second hour now comes from the 1-minute rollups, the third is raw
        got = store.query(["cpu_percent"], T0 + 3600, T0 + 3 * 3600 - 1, limit=10_000)[
            "cpu_percent"
        ]
        old = [p for p in got if p[0] < T0 + 7200]
        new = [p for p in got if p[0] >= T0 + 7200]
        assert len(old) == 60 and len(new) == 3600
        assert old[0] == (pytest.approx(T0 + 3629.5), pytest.approx(29.5))
        assert new[0] == (T0 + 7200, 0.0)
        assert store.integrity_check() == "ok"


def test_wide_query_reads_rollups_and_is_fast(store: MetricStore) -> None:
    store.append_many(ticks(6 * 3600))
    started = time.perf_counter()
    got = store.query(None, T0, T0 + 6 * 3600, limit=100)
    elapsed = time.perf_counter() - started
    assert all(len(points) == 100 for points in got.values())
    assert elapsed < 0.5  # 21,600 raw rows per metric, 360 rollup rows read


def test_export_import_round_trip(store: MetricStore, tmp_path: Path) -> None:
    store.append_many(ticks(50))
    seen: list[str] = []
    out = tmp_path / "h.json"
    assert export_history(store, out, progress=lambda m, i, n: seen.append(m), now=T0) == 100
    assert seen == ["cpu_percent", "load1"]
    doc = json.loads(out.read_text())
    assert doc["format"] == "foresight-history" and doc["exported_at"] == T0
    assert doc["metrics"]["cpu_percent"]["unit"] == "%"
    with MetricStore(tmp_path / "copy.db") as copy:
        assert import_history(copy, out) == 100
        assert import_history(copy, out) == 0  # idempotent
        assert copy.query(None, T0, T0 + 49, limit=100) == store.query(None, T0, T0 + 49, limit=100)


def test_export_filters_and_unknown_metric(store: MetricStore, tmp_path: Path) -> None:
    store.append_many(ticks(50))
    out = tmp_path / "h.json"
    assert export_history(store, out, ["load1"], since=T0 + 10, until=T0 + 19) == 10
    with pytest.raises(InputError, match=r"unknown metric.*cpu_percent, load1"):
        export_history(store, out, ["nope"])


BAD_FILES = [
    ("not json", "is not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"metrics": {"a": {"points": [[1800000000, NaN]]}}}', "NaN is not allowed"),
    ('{"metrics": {"a": {"points": [[1800000000, "x"]]}}}', "point 0 must be"),
    ('{"metrics": {"a": {"points": [[1800000000]]}}}', "point 0 must be"),
    ('{"metrics": {"a": {"points": [[1.8e15, 1]]}}}', "expected epoch seconds"),
    ('{"metrics": {"bad name": {"points": []}}}', "is not allowed"),
    ('{"metrics": {"a": []}}', 'needs a "points" list'),
    ('{"format": "csv", "metrics": {}}', "expected 'foresight-history'"),
    ('{"version": 9, "metrics": {}}', "version 9"),
]


@pytest.mark.parametrize("text,message", BAD_FILES)
def test_import_rejects_bad_files_and_writes_nothing(
    store: MetricStore, tmp_path: Path, text: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    # a valid metric first: validation must fail before anything is written
    bad.write_text(
        text.replace('"metrics": {', '"metrics": {"ok": {"points": [[1800000000, 1]]}, ', 1)
        if '"metrics": {"' in text
        else text
    )
    with pytest.raises(InputError, match=message):
        import_history(store, bad)
    assert store.metric_names() == []
    with pytest.raises(InputError, match="cannot read"):
        import_history(store, tmp_path / "missing.json")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(InputError, match="schema version 99"):
        MetricStore(path)


def test_a_file_that_is_not_a_database_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(InputError, match="cannot open the history store"):
        MetricStore(path)


def test_concurrent_reader_threads_while_writing(store: MetricStore) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                store.query(None, T0, T0 + 1000, limit=50)
                store.latest()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for r in readers:
        r.start()
    for ts, values in ticks(300):
        store.append(ts, values)
    done.set()
    for r in readers:
        r.join()
    assert errors == []
    assert len(store.query(["load1"], T0, T0 + 299, limit=300)["load1"]) == 300


WRITER = """
import sys
sys.path.insert(0, {root!r})
from foresight.store.metric_store import MetricStore
store = MetricStore({path!r})
i = 0
while True:
    store.append(1800000000.0 + i, {{f"m{{k}}": float(i) for k in range(16)}})
    print(i, flush=True)
    i += 1
"""


def test_kill_9_mid_write_keeps_history_intact(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        last = -1
        assert proc.stdout is not None
        for line in proc.stdout:
            last = int(line)
            if last >= 200:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    with MetricStore(path) as store:
        assert store.integrity_check() == "ok"
        got = store.query(["m0", "m15"], T0, T0 + 10_000, limit=10_000)
        # every committed tick is there, whole; at most the one in flight is missing
        stored = [t for t, _ in got["m0"]]
        assert len(stored) >= last + 1
        assert stored == [T0 + i for i in range(len(stored))]
        assert [t for t, _ in got["m15"]] == stored
