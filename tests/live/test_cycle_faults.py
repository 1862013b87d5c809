"""The sampling cycle on a failing store (issue 13): the real collector and store, the
data dir on a real 2 MB tmpfs that the test fills, the API through Flask's client.

Before: a full disk made every tick raise (two tracebacks: the failed COMMIT, then
"cannot rollback - no transaction is active"), the ring buffer stopped moving, and
health said only "degraded" with a tick_errors count; a deleted data dir left health
"ok" while every new sample went into the deleted file.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from foresight.core.settings import Settings
from foresight.live import services as live
from foresight.live.services import Services, build_services, run_cycle, stop
from foresight.store.metric_store import MetricStore


@pytest.fixture
def on_tiny_fs(tiny_fs, tmp_path: Path, clock) -> Iterator[Services]:
    """Running monitor services whose data dir is the 2 MB tmpfs ``tiny_fs``."""
    svc = build_services(Settings(data_dir=tiny_fs.path), now=clock())
    svc.clock = clock
    svc.running = True  # health as the started monitor reports it (no scheduler here)
    yield svc
    stop(svc)


def health(svc: Services) -> dict:
    from dashboard import create_app

    return (
        create_app({"TESTING": True}, services=svc)
        .test_client()
        .get("/api/system/health")
        .get_json()
    )


def tick(svc: Services, clock) -> None:
    run_cycle(svc, clock.advance(1.0))


def our_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("foresight")]


def test_disk_full_is_seen_logged_once_and_survived(
    on_tiny_fs: Services, tiny_fs, clock, caplog: pytest.LogCaptureFixture
) -> None:
    svc = on_tiny_fs
    for _ in range(3):
        tick(svc, clock)
    assert health(svc)["store"]["ok"] is True and health(svc)["status"] == "ok"
    tiny_fs.fill()
    caplog.set_level(logging.INFO)
    for _ in range(60):  # the WAL's free frames absorb a few ticks, then writes fail
        tick(svc, clock)
        if not svc.store_faults.to_dict()["ok"]:
            break
    body = health(svc)
    store = body["store"]
    assert store["ok"] is False, "60 ticks were stored on a full 2 MB filesystem"
    assert "full" in store["error"] and "rollback" not in store["error"]
    assert store["since"] == svc.recent[-1].timestamp
    assert body["status"] == "degraded"
    assert any(store["error"] in reason for reason in body["reasons"])
    failed_at = clock()
    for _ in range(20):  # more failing ticks: no more log lines, the live view moves
        tick(svc, clock)
    records = our_records(caplog)
    assert [r.levelname for r in records] == ["ERROR"], [r.getMessage() for r in records]
    assert store["error"] in records[0].getMessage() and records[0].exc_info is None
    unstored = [s for s in svc.recent if s.timestamp >= failed_at]
    assert len(unstored) == 21 and not any(s.stored for s in unstored)
    assert svc.recent[-1].timestamp == clock()
    realtime = health_client(svc).get(f"/api/metrics/realtime?since={failed_at - 0.5}")
    assert {s.get("stored") for s in realtime.get_json()["samples"]} == {False}
    assert health(svc)["store"]["not_stored"] == 21
    assert health(svc)["tick_errors"] == 21

    clock.advance(60.0)
    tick(svc, clock)  # a minute on: one summary line, still no traceback
    records = our_records(caplog)
    assert len(records) == 2 and "still failing" in records[1].getMessage()

    tiny_fs.free()
    tick(svc, clock)
    body = health(svc)
    assert body["store"]["ok"] is True and body["status"] == "ok" and body["reasons"] == []
    assert body["store"]["last_fault"]["not_stored"] == 22
    assert svc.recent[-1].stored
    assert "resumed" in our_records(caplog)[-1].getMessage()
    assert all(r.exc_info is None for r in our_records(caplog))
    # Nothing half-written: every stored tick has all its values, no failed tick has any.
    rows = dict(svc.store.raw_rows(-1e18, 1e18))
    assert all(s.timestamp not in rows for s in unstored)
    assert svc.recent[-1].timestamp in rows
    assert len(rows[svc.recent[-1].timestamp]) == len(svc.recent[-1].values)
    assert svc.store.integrity_check() == "ok"


def health_client(svc: Services):
    from dashboard import create_app

    return create_app({"TESTING": True}, services=svc).test_client()


def test_maintenance_on_a_full_disk_logs_one_line(
    on_tiny_fs: Services, tiny_fs, clock, caplog: pytest.LogCaptureFixture
) -> None:
    svc = on_tiny_fs
    for _ in range(3):
        tick(svc, clock)
    tiny_fs.fill()
    while svc.store_faults.to_dict()["ok"] and clock() < svc.started_at + 100:
        tick(svc, clock)
    caplog.clear()
    caplog.set_level(logging.INFO)
    live.maintain(svc, clock())  # does not raise: the job must keep its schedule
    assert all(r.exc_info is None for r in our_records(caplog))
    tiny_fs.free()
    live.maintain(svc, clock())
    wal = Path(f"{svc.store.path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated


def test_deleted_data_dir_is_reported_reopened_and_kept(
    services: Services, clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services.running = True
    for _ in range(3):
        tick(services, clock)
    assert health(services)["status"] == "ok"
    shutil.rmtree(tmp_path / "data")
    caplog.set_level(logging.INFO)
    tick(services, clock)
    lost_at = clock()
    body = health(services)
    assert body["status"] == "degraded"
    assert any("deleted" in reason for reason in body["reasons"]), body["reasons"]
    assert body["store"]["last_fault"]["code"] == "REOPENED"
    assert (tmp_path / "data" / "foresight.db").exists()
    assert any("fresh database" in r.getMessage() for r in our_records(caplog))
    for _ in range(4):
        tick(services, clock)
    assert body["store"]["ok"] is True
    clock.advance(301.0)
    assert health(services)["status"] == "degraded"  # stale now, and says so
    tick(services, clock)
    assert health(services)["status"] == "ok"  # the report of the reopen has aged out
    stop(services)
    with MetricStore(tmp_path / "data" / "foresight.db") as reopened:
        stamps = [ts for ts, _ in reopened.raw_rows(-1e18, 1e18)]
    assert stamps and min(stamps) == lost_at and len(stamps) == 6  # survived the restart


def test_database_replaced_by_junk_is_an_error_not_a_traceback_per_tick(
    services: Services, clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services.running = True
    for _ in range(2):
        tick(services, clock)
    path = tmp_path / "data" / "foresight.db"
    junk = tmp_path / "junk"
    junk.write_bytes(b"this is not a database" * 300)
    os.replace(junk, path)
    caplog.set_level(logging.INFO)
    for _ in range(5):
        tick(services, clock)  # the SQL probe and the append both meet the junk
    body = health(services)
    assert body["status"] == "degraded" and body["store"]["ok"] is False
    assert "replaced" in body["store"]["error"] and "not a database" in body["store"]["error"]
    assert body["store"]["read_error"] is not None  # the health request itself answers
    assert not services.recent[-1].stored and services.recent[-1].timestamp == clock()
    assert len(our_records(caplog)) == 1 and our_records(caplog)[0].exc_info is None
    path.unlink()  # the junk goes: the next tick starts a fresh database
    tick(services, clock)
    body = health(services)
    assert body["store"]["ok"] is True and services.recent[-1].stored
    assert any("fresh database" in reason for reason in body["reasons"]), body["reasons"]
