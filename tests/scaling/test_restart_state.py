"""The live engine's mode, override hold and pool survive a restart of the real monitor.

Each test builds the real services on a data dir, changes state through the API, stops
them (as the monitor's shutdown does) and builds them again on the same data dir: what
comes back follows the rule in ``foresight/scaling/saved_state.py``.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest

from foresight.core.settings import Settings
from foresight.live.scaling import EXTRAS_KEY
from foresight.live.services import build_services, stop
from foresight.scaling.saved_state import POOL_COUNT_MAX_AGE_S, PoolRecord
from metrics_collector import Sample
from resource_manager import SAVED_EVENTS

DAY_S = 86_400.0


class Monitor:
    """The real services and a test client on one data dir; ``restart`` keeps the dir."""

    def __init__(self, settings: Settings, clock) -> None:
        self.settings, self.clock = settings, clock
        self.svc = self.client = None
        self.start()

    def start(self) -> None:
        from dashboard import create_app

        self.svc = build_services(self.settings, now=self.clock())
        self.svc.clock = self.clock
        self.client = create_app({"TESTING": True}, services=self.svc).test_client()

    def restart(self, down_s: float = 5.0) -> None:
        stop(self.svc)
        self.clock.advance(down_s)
        self.start()

    @property
    def live(self):
        return self.svc.extras[EXTRAS_KEY]

    def status(self) -> dict:
        return self.client.get("/api/scaling/status").get_json()

    def feed(self, cpu: float, seconds: int) -> None:
        for _ in range(seconds):
            self.live.stage(self.clock.advance(1.0), Sample(self.clock(), {"cpu_percent": cpu}))


@pytest.fixture
def monitor(tmp_path, clock):
    m = Monitor(Settings(data_dir=tmp_path / "data"), clock)
    yield m
    stop(m.svc)


def test_a_mode_set_through_the_api_wins_over_the_setting_across_restarts(monitor):
    assert monitor.status()["mode"] == "auto"  # SCALING_MODE's default
    assert monitor.client.post("/api/scaling/mode", json={"mode": "paused"}).status_code == 200
    monitor.restart()
    status = monitor.status()
    assert status["mode"] == "paused" and monitor.live.engine.mode.value == "paused"
    assert status["mode_source"] == "api"
    assert status["restored"]["mode"] == "paused"
    monitor.feed(99.0, 20)  # paused: busy cores decide nothing
    assert monitor.live.engine.last_decision.rule == "paused"
    assert monitor.status()["desired"] == 1
    # Set again through the API (to the setting's own value): that is what comes back.
    monitor.client.post("/api/scaling/mode", json={"mode": "dry-run"})
    monitor.restart()
    assert monitor.status()["mode"] == "dry-run"
    monitor.client.post("/api/scaling/mode", json={"mode": "auto"})
    monitor.restart()
    assert monitor.status()["mode"] == "auto" and monitor.status()["mode_source"] == "api"


def test_an_override_hold_survives_a_restart_until_it_expires(monitor, clock):
    top = monitor.status()["max_instances"]
    assert top >= 2
    held = monitor.client.post("/api/scaling/execute", json={"instances": top, "hold_s": 600})
    assert held.status_code == 200
    until = clock() + 600
    monitor.restart(down_s=100)
    status = monitor.status()
    assert status["override_until"] == pytest.approx(until)
    assert status["desired"] == top and status["restored"]["hold_until"] == pytest.approx(until)
    monitor.feed(5.0, 60)  # idle, but the restored hold keeps the count
    assert monitor.live.engine.last_decision.rule == "manual-hold"
    assert monitor.status()["desired"] == top
    # A hold that ends while the monitor is down is not restored: automatic at once.
    monitor.restart(down_s=600)
    status = monitor.status()
    assert status["override_until"] is None and monitor.live.engine.hold_until is None
    assert any("expired" in note for note in status["restored"]["notes"])
    monitor.feed(5.0, 400)  # idle: the engine scales back down on its own
    assert monitor.status()["desired"] == 1
    # that start dropped the expired hold from the saved row: the next one is silent
    monitor.restart()
    status = monitor.status()
    assert not any("expired" in note for note in status["restored"]["notes"])
    assert status["override_until"] is None


def test_a_hold_that_ended_while_running_is_not_saved_again(monitor):
    monitor.client.post("/api/scaling/execute", json={"instances": 2, "hold_s": 60})
    monitor.feed(5.0, 100)  # the hold ends while the monitor runs
    monitor.client.post("/api/scaling/mode", json={"mode": "dry-run"})  # saves the row
    monitor.restart()
    status = monitor.status()
    assert status["mode"] == "dry-run"
    assert not any("expired" in note for note in status["restored"]["notes"])


def test_the_pool_count_bill_storage_and_size_survive_a_restart(monitor, clock):
    live = monitor.live
    top = monitor.status()["max_instances"]
    monitor.client.post("/api/scaling/execute", json={"instances": top, "hold_s": 0})
    monitor.client.post("/api/scaling/mode", json={"mode": "paused"})  # keep the count
    monitor.feed(50.0, 1800)  # half an hour of billing
    with live.lock:
        live.pool.grow_storage(250.0, clock(), "test")
        live.pool.resize("large", clock(), "test")
    before = monitor.status()
    assert before["cost"]["today_usd"] > 0.1
    monitor.restart()
    after = monitor.status()
    assert after["desired"] == top and after["instances"]["ready"] == top
    assert after["storage_gb"] == 250.0 and after["instance_size"] == "large"
    # the bill carries on from the stop (billed to it), and the down time is not billed
    assert after["cost"]["today_usd"] == pytest.approx(before["cost"]["today_usd"], abs=1e-3)
    assert after["cost"]["total_usd"] == pytest.approx(before["cost"]["total_usd"], abs=1e-3)
    assert after["restored"]["instances"] == top
    monitor.feed(50.0, 600)  # it keeps billing from there, at the large price
    later = monitor.status()["cost"]["today_usd"]
    assert later == pytest.approx(after["cost"]["today_usd"] + top * 0.20 / 6, rel=0.02)


def test_instance_ids_and_the_pool_events_carry_on_across_a_restart(monitor, clock):
    top = monitor.status()["max_instances"]
    monitor.client.post("/api/scaling/execute", json={"instances": top, "hold_s": 0})
    monitor.client.post("/api/scaling/mode", json={"mode": "paused"})
    monitor.feed(50.0, 600)
    before = monitor.client.get("/api/resources").get_json()
    highest = max(i["id"] for i in before["instances"])
    assert highest == top and before["events"]
    monitor.restart()
    after = monitor.client.get("/api/resources").get_json()
    ids = sorted(i["id"] for i in after["instances"])
    assert ids == list(range(highest + 1, highest + 1 + top))  # not 1, 2, ... again
    assert after["events"][: len(before["events"])] == before["events"]
    assert after["events"][-1]["kind"] == "launch" and after["events"][-1]["instance_id"] == ids[-1]
    # a count too old to restore: the initial instances are numbered after the saved too
    monitor.restart(down_s=POOL_COUNT_MAX_AGE_S + 60)
    again = monitor.client.get("/api/resources").get_json()
    assert [i["id"] for i in again["instances"]] == [ids[-1] + 1]
    assert again["events"][-1]["instance_id"] == ids[-1] + 1
    assert len(again["events"]) <= SAVED_EVENTS + 1


def test_a_pool_row_saved_before_ids_and_events_still_restores():
    body = {"at": 1.0, "instances": 2, "size": "standard", "storage_gb": 100.0}
    record = PoolRecord.from_dict({**body, "cost_total": 1.0, "cost_today": 0.5})
    assert record.instances == 2 and record.last_id == 0 and record.events == ()
    with pytest.raises(ValueError, match="events"):
        PoolRecord.from_dict({**body, "cost_total": 1.0, "cost_today": 0.5, "events": {}})


def test_a_stale_count_and_another_days_bill_start_from_the_settings(monitor, clock):
    top = monitor.status()["max_instances"]
    monitor.client.post("/api/scaling/execute", json={"instances": top, "hold_s": 0})
    monitor.client.post("/api/scaling/mode", json={"mode": "paused"})
    monitor.feed(50.0, 600)
    total = monitor.status()["cost"]["total_usd"]
    monitor.restart(down_s=POOL_COUNT_MAX_AGE_S + 60)  # same UTC day, count too old
    status = monitor.status()
    assert status["cost"]["today_usd"] == pytest.approx(total, abs=1e-3)
    assert status["desired"] == 1 and status["restored"]["instances"] is None
    assert any("old" in note for note in status["restored"]["notes"])
    monitor.restart(down_s=DAY_S)  # the next UTC day: today's bill starts at 0
    status = monitor.status()
    assert status["cost"]["today_usd"] == 0.0 and status["restored"]["cost_today_usd"] is None
    assert status["cost"]["total_usd"] == pytest.approx(total, abs=1e-3)


def test_a_restored_count_is_clamped_to_the_new_bounds(monitor, clock):
    top = monitor.status()["max_instances"]
    monitor.client.post("/api/scaling/execute", json={"instances": top, "hold_s": 0})
    monitor.client.post("/api/scaling/mode", json={"mode": "paused"})
    monitor.settings = Settings(data_dir=monitor.settings.data_dir, max_instances=top - 1)
    monitor.restart()
    status = monitor.status()
    assert status["desired"] == top - 1 and status["restored"]["instances"] == top - 1
    assert any("clamped" in note for note in status["restored"]["notes"])


@pytest.mark.parametrize(
    "body",
    [
        '{"at": 1800000000.0, "instances": 3, "si',  # half-written
        "not json at all",
        '{"at": 1800000000.0, "instances": "three", "size": "standard", "storage_gb": 100,'
        ' "cost_total": 1.0, "cost_today": 1.0}',
        '{"at": 1800000000.0, "instances": 3, "size": "huge", "storage_gb": 100,'
        ' "cost_total": 1.0, "cost_today": 1.0}',
        "[1, 2, 3]",
    ],
    ids=["half-written", "not-json", "mistyped-count", "unknown-size", "not-an-object"],
)
def test_damaged_saved_state_is_logged_and_the_settings_win(monitor, clock, caplog, body):
    monitor.client.post("/api/scaling/mode", json={"mode": "paused"})
    monitor.client.post("/api/scaling/execute", json={"instances": 2, "hold_s": 600})
    path = monitor.svc.store.path
    stop(monitor.svc)
    with sqlite3.connect(path) as conn:  # damage both rows the way a bad edit would
        conn.execute("UPDATE state SET body = ?", (body,))
    clock.advance(5.0)
    with caplog.at_level(logging.WARNING):
        monitor.start()
    damaged = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(damaged) == 2, damaged
    assert all("starting from the settings" in m for m in damaged)
    status = monitor.status()
    assert status["mode"] == "auto" and status["mode_source"] == "settings"
    assert status["desired"] == 1 and status["override_until"] is None
    assert status["restored"] is None and status["cost"]["total_usd"] == 0.0
    # and the next save replaces the damaged rows: a restart now restores again
    monitor.client.post("/api/scaling/mode", json={"mode": "dry-run"})
    monitor.restart()
    assert monitor.status()["mode"] == "dry-run"
