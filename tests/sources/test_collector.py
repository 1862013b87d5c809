"""The collector with psutil monkeypatched (invariants), probes, tick stats, the cycle."""

from __future__ import annotations

import socket
import time
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path

import pytest

import metrics_collector
from foresight.core.settings import Settings
from foresight.host import system
from foresight.live import services as monitor
from metrics_collector import MetricsCollector, Sample, TickStats
from tests.http_support import QuietHandler, loopback_server

CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait guest guest_nice")
Disk = namedtuple("Disk", "read_bytes write_bytes")
Net = namedtuple("Net", "bytes_recv bytes_sent")
Usage = namedtuple("Usage", "percent used")
Percent = namedtuple("Percent", "percent")
NicStats = namedtuple("NicStats", "isup flags")
Partition = namedtuple("Partition", "device mountpoint fstype")
DiskUsage = namedtuple("DiskUsage", "total used free percent")
LOOPBACK = Net(10**9, 10**9)  # loopback traffic: received always equals sent


class FakePsutil:
    """Just the psutil calls the collector makes, with values the test controls."""

    __version__ = "fake"

    def __init__(self) -> None:
        self.cores = [CpuTimes(10.0, 0.0, 5.0, 100.0, 1.0, 0.0, 0.0) for _ in range(2)]
        self.disk: Disk | None = Disk(1000, 2000)
        self.net = Net(5000, 6000)
        self.memory = 42.0

    def cpu_times(self, percpu: bool = False) -> list[CpuTimes]:
        return list(self.cores)

    def burn(self, core: int, busy_s: float, idle_s: float) -> None:
        t = self.cores[core]
        self.cores[core] = t._replace(user=t.user + busy_s, idle=t.idle + idle_s)

    def disk_io_counters(self, perdisk: bool = False) -> dict[str, Disk] | None:
        return None if self.disk is None else {"sda": self.disk, "loop0": Disk(7, 7)}

    def net_io_counters(self, pernic: bool = False) -> dict[str, Net]:
        return {"eth0": self.net, "lo": LOOPBACK, "docker0": Net(123, 456)}

    def net_if_stats(self) -> dict[str, NicStats]:
        return {
            "eth0": NicStats(True, "up,broadcast,running"),
            "lo": NicStats(True, "up,loopback,running"),
            "docker0": NicStats(True, "up,broadcast"),
        }

    def disk_partitions(self, all: bool = False) -> list[Partition]:
        return [Partition("/dev/sda1", "/", "ext4"), Partition("/dev/sda1", "/srv/bind", "ext4")]

    def virtual_memory(self) -> Percent:
        return Percent(self.memory)

    def swap_memory(self) -> Percent:
        return Percent(0.0)

    def disk_usage(self, path: str) -> DiskUsage:
        return DiskUsage(100e9, 12e9, 88e9, 55.5)

    def getloadavg(self) -> tuple[float, float, float]:
        return (0.5, 0.4, 0.3)

    def pids(self) -> list[int]:
        return [1, 2, 3]


def fake_sys(root: Path) -> Path:
    """A /sys with a physical eth0, virtual lo and docker0, whole disks sda and loop0."""
    for name, where in (
        ("eth0", "pci0000:00/net"),
        ("lo", "virtual/net"),
        ("docker0", "virtual/net"),
    ):
        (root / "devices" / where / name).mkdir(parents=True)
        (root / "class/net").mkdir(parents=True, exist_ok=True)
        (root / "class/net" / name).symlink_to(root / "devices" / where / name)
    for disk in ("sda", "loop0"):
        (root / "block" / disk).mkdir(parents=True)
    return root


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakePsutil:
    fake = FakePsutil()
    monkeypatch.setattr(metrics_collector, "psutil", fake)
    monkeypatch.setattr(system, "psutil", fake)
    monkeypatch.setattr(system, "SYS_ROOT", fake_sys(tmp_path / "sys"))
    return fake


def percents(sample: Sample) -> dict[str, float]:
    return {k: v for k, v in sample.values.items() if k.endswith("_percent")}


def test_first_tick_primes_then_rates_and_cpu(fake: FakePsutil, tmp_path: Path) -> None:
    collector = MetricsCollector(tmp_path, probe_url=None)
    first = collector.collect(100.0)
    assert "cpu_percent" not in first.values
    assert not any(k.endswith("_per_s") for k in first.values)
    assert first.values["memory_percent"] == 42.0 and first.values["process_count"] == 3
    fake.burn(0, busy_s=0.75, idle_s=0.25)
    fake.burn(1, busy_s=0.0, idle_s=1.0)
    fake.disk = Disk(3000, 2000)
    fake.net = Net(5500, 6000)
    second = collector.collect(102.0)
    assert second.values["cpu_core0_percent"] == pytest.approx(75.0)
    assert second.values["cpu_core1_percent"] == pytest.approx(0.0)
    assert second.values["cpu_percent"] == pytest.approx(37.5)
    assert second.values["disk_read_bytes_per_s"] == pytest.approx(1000.0)
    assert second.values["disk_write_bytes_per_s"] == 0.0
    assert second.values["net_recv_bytes_per_s"] == pytest.approx(250.0)
    assert second.values["disk_used_gb"] == pytest.approx(12.0)
    assert second.timestamp == 102.0


def test_counter_reset_never_gives_negative_rates(fake: FakePsutil, tmp_path: Path) -> None:
    collector = MetricsCollector(tmp_path, probe_url=None)
    collector.collect(0.0)
    fake.net = Net(10, 6100)  # receive counter reset, send counter grew
    fake.cores[0] = fake.cores[0]._replace(idle=1.0)  # CPU counters went backwards
    sample = collector.collect(1.0)
    assert "net_recv_bytes_per_s" not in sample.values
    assert sample.values["net_sent_bytes_per_s"] == pytest.approx(100.0)
    assert "cpu_percent" not in sample.values  # re-primed
    fake.net = Net(110, 6100)
    sample = collector.collect(2.0)
    assert sample.values["net_recv_bytes_per_s"] == pytest.approx(100.0)
    assert all(v >= 0 for k, v in sample.values.items() if k.endswith("_per_s"))


def test_percents_are_clamped_and_missing_disk_io_is_skipped(
    fake: FakePsutil, tmp_path: Path
) -> None:
    fake.memory = 100.4
    fake.disk = None
    collector = MetricsCollector(tmp_path / "not" / "yet", probe_url=None)
    collector.collect(0.0)
    fake.burn(0, busy_s=1.0, idle_s=0.0)
    sample = collector.collect(1.0)
    assert all(0.0 <= v <= 100.0 for v in percents(sample).values())
    assert sample.values["memory_percent"] == 100.0
    assert not any(k.startswith("disk_read") for k in sample.values)


def test_same_timestamp_gives_no_rates(fake: FakePsutil, tmp_path: Path) -> None:
    collector = MetricsCollector(tmp_path, probe_url=None)
    collector.collect(5.0)
    fake.net = Net(9000, 9000)
    assert not any(k.endswith("_per_s") for k in collector.collect(5.0).values)


def test_real_psutil_invariants(tmp_path: Path) -> None:
    collector = MetricsCollector(tmp_path, probe_url=None)
    collector.prime()
    time.sleep(0.05)
    sample = collector.collect(time.time())
    assert {"cpu_percent", "memory_percent", "disk_percent", "load1", "process_count"} <= set(
        sample.values
    )
    assert all(0.0 <= v <= 100.0 for v in percents(sample).values())
    assert all(v >= 0 for k, v in sample.values.items() if k.endswith("_per_s"))
    assert sample.to_dict()["values"] == dict(sample.values)


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(500 if self.path == "/fail" else 200)
            self.end_headers()
            self.wfile.write(b"{}")

    with loopback_server(Handler) as url:
        yield url


def test_http_probe_success_and_http_error(
    fake: FakePsutil, tmp_path: Path, http_server: str
) -> None:
    ok = MetricsCollector(tmp_path, probe_url=f"{http_server}/ok").collect(0.0)
    assert ok.values["api_success"] == 1.0 and ok.values["api_response_ms"] >= 0
    bad = MetricsCollector(tmp_path, probe_url=f"{http_server}/fail").collect(0.0)
    assert bad.values["api_success"] == 0.0 and bad.values["api_response_ms"] >= 0


def test_http_probe_connection_refused(fake: FakePsutil, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    sample = MetricsCollector(tmp_path, probe_url=f"http://127.0.0.1:{port}/").collect(0.0)
    assert sample.values["api_success"] == 0.0
    assert "api_response_ms" not in sample.values


def test_sql_probe_times_a_real_query(fake: FakePsutil, store, tmp_path: Path) -> None:
    store.append(1.0, {"cpu_percent": 1.0})
    sample = MetricsCollector(tmp_path, probe_url=None, store=store).collect(2.0)
    assert sample.values["db_query_ms"] >= 0


def test_tick_stats_jitter_and_missed_ticks() -> None:
    stats = TickStats(interval_s=1.0, origin=100.0)
    assert stats.jitter_ms() == {"p50": None, "p99": None, "max": None}
    assert stats.record(100.002) == pytest.approx(0.002)
    stats.record(101.001)
    stats.record(104.010)  # slots 102 and 103 were skipped
    stats.record(104.9995)  # a hair early for slot 105 still counts as slot 105
    assert stats.ticks == 4 and stats.missed == 2
    assert stats.jitter_ms()["max"] == pytest.approx(10.0)


def test_sampling_job_runs_on_a_real_scheduler(services: monitor.Services) -> None:
    services.settings = Settings(data_dir=services.settings.data_dir, interval_s=0.1)
    services.tick_stats = TickStats(0.1, origin=time.time())
    monitor.start(services)
    try:
        deadline = time.time() + 5
        while services.tick_stats.ticks < 3 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        monitor.stop(services)
    assert services.tick_stats.ticks >= 3 and services.tick_stats.errors == 0
    assert len(services.recent) >= 3
    assert not services.running


def test_run_cycle_counts_a_failing_stage_and_runs_the_rest(
    services: monitor.Services, clock, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[float] = []

    def broken(now: float, sample: Sample) -> None:
        raise RuntimeError("boom")

    services.stages.extend([broken, lambda now, sample: seen.append(now)])
    sample = monitor.run_cycle(services, clock())
    assert seen == [clock()] and services.stage_errors == 1
    assert "boom" in caplog.text and "Traceback" in caplog.text
    assert services.latest() is sample
    assert services.store.latest()["memory_percent"][0] == clock()


@pytest.mark.parametrize(
    "models, scaling, alerts",
    [(True, True, True), (False, True, True), (False, False, True), (False, False, False)],
)
def test_live_parts_follow_their_settings(
    tmp_path: Path, models: bool, scaling: bool, alerts: bool
) -> None:
    settings = Settings(
        data_dir=tmp_path, live_models=models, live_scaling=scaling, live_alerts=alerts
    )
    svc = monitor.build_services(settings, now=1.0)
    try:
        assert ("live_models" in svc.extras) is models
        assert ("live_scaling" in svc.extras) is scaling
        assert ("alerts" in svc.extras) is alerts
        assert ("live_risk" in svc.extras) is models  # crash risk reads the forecasts
        assert len(svc.stages) == 2 * models + scaling + alerts
    finally:
        monitor.stop(svc)
