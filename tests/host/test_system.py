"""Memory split, devices and the process table: invariants on the real host (psutil),
and the device rules (loopback, virtual, loop disks, bind mounts) on laid-out /sys trees."""

from __future__ import annotations

import os
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

import metrics_collector
from foresight.core.catalog import metric_info
from foresight.host import system
from foresight.host.processes import ProcessSampler
from foresight.host.system import (
    DeviceSampler,
    charted_disks,
    classify_interfaces,
    filesystems,
    rate_name,
    split_metric,
    whole_disks,
)

NicStats = namedtuple("NicStats", "isup flags")
Partition = namedtuple("Partition", "device mountpoint fstype")


def lay_out_net(root: Path, physical: list[str], virtual: list[str]) -> Path:
    for names, where in ((physical, "pci0000:00/net"), (virtual, "virtual/net")):
        for name in names:
            (root / "devices" / where / name).mkdir(parents=True)
            (root / "class/net").mkdir(parents=True, exist_ok=True)
            (root / "class/net" / name).symlink_to(root / "devices" / where / name)
    return root / "class/net"


def test_names_round_trip() -> None:
    assert rate_name("net_recv_bytes:eth0") == "net_recv_bytes_per_s:eth0"
    assert rate_name("disk_read_bytes") == "disk_read_bytes_per_s"
    assert split_metric("fs_used_percent:/var/lib") == ("fs_used_percent", "/var/lib")
    assert split_metric("cpu_percent") == ("cpu_percent", None)
    assert metric_info("net_sent_bytes_per_s:wlan0").unit == "B/s"
    assert metric_info("fs_used_percent:/").critical == 90


def test_loopback_and_virtual_interfaces_do_not_count(tmp_path: Path) -> None:
    sys_net = lay_out_net(tmp_path, ["eth0"], ["lo", "docker0", "veth1"])
    stats = {
        "eth0": NicStats(True, "up,broadcast,running"),
        "lo": NicStats(True, "up,loopback,running"),
        "docker0": NicStats(True, "up,broadcast"),
        "veth1": NicStats(False, "broadcast"),
    }
    got = classify_interfaces(stats, sys_net)
    assert [n for n, i in got.items() if i.counted] == ["eth0"]
    assert got["lo"].reason == "loopback" and got["lo"].loopback
    assert got["docker0"].virtual and "virtual" in (got["docker0"].reason or "")


def test_a_container_counts_its_veth_but_never_loopback(tmp_path: Path) -> None:
    sys_net = lay_out_net(tmp_path, [], ["lo", "eth0"])  # a container: eth0 is a veth
    stats = {"eth0": NicStats(True, "up,broadcast"), "lo": NicStats(True, "up,loopback")}
    got = classify_interfaces(stats, sys_net)
    assert got["eth0"].counted and not got["lo"].counted


def test_disks_and_filesystems_rules(tmp_path: Path) -> None:
    for disk in ("sda", "loop0", "zram0", "nvme0n1"):
        (tmp_path / disk).mkdir()
    disks = whole_disks(["sda", "sda1", "loop0", "zram0", "nvme0n1", "nvme0n1p1"], tmp_path)
    assert disks == ["loop0", "nvme0n1", "sda", "zram0"]  # partitions dropped
    assert charted_disks(disks) == ["nvme0n1", "sda"]
    mounts = filesystems(
        [
            Partition("/dev/sda1", "/", "ext4"),
            Partition("/dev/sda1", "/var/lib/docker/bind", "ext4"),
            Partition("/dev/sdb1", "/home", "xfs"),
        ]
    )
    assert mounts == [("/", "/dev/sda1", "ext4"), ("/home", "/dev/sdb1", "xfs")]
    assert filesystems([]) == [("/", "rootfs", "")]  # a container's overlay root


def test_real_host_devices_rates_and_memory(tmp_path: Path) -> None:
    collector = metrics_collector.MetricsCollector(tmp_path, probe_url=None)
    collector.prime()
    time.sleep(0.2)
    values = collector.collect(time.time()).values
    devices = collector.devices
    vm = psutil.virtual_memory()
    for name in ("memory_used_bytes", "memory_available_bytes"):
        assert 0 <= values[name] <= vm.total, name
    assert devices.filesystems, "psutil found no filesystem"
    for fs in devices.filesystems:
        assert 0 <= values[f"fs_used_percent:{fs.mountpoint}"] <= 100
        assert 0 <= fs.used_bytes <= fs.total_bytes
    stats = psutil.net_if_stats()
    loopbacks = [n for n in stats if n == "lo" or "loopback" in stats[n].flags]
    for name in loopbacks:
        assert not any(k.endswith(f":{name}") for k in values), f"{name} has series"
    counted = [i.name for i in devices.interfaces.values() if i.counted]
    per_nic = sum(values.get(f"net_recv_bytes_per_s:{n}", 0.0) for n in counted)
    assert values["net_recv_bytes_per_s"] == pytest.approx(per_nic, rel=1e-3, abs=1e-3)
    for disk in devices.charted:
        assert values[f"disk_read_bytes_per_s:{disk}"] >= 0
        assert not disk.startswith(("loop", "ram", "zram"))
    assert all(v >= 0 for k, v in values.items() if "_per_s" in k)
    facts = metrics_collector.host_facts()
    assert facts["memory_total_bytes"] == vm.total and facts["swap_total_bytes"] >= 0


def test_network_totals_leave_loopback_out_on_the_real_host(tmp_path: Path) -> None:
    """Loopback traffic (made here) shows in psutil's own totals, never in ours."""
    import socket

    devices = DeviceSampler()
    before = devices.counters(time.time())
    raw_before = psutil.net_io_counters(pernic=True)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            conn, _ = server.accept()
            client.sendall(b"x" * 2_000_000)
            got = 0
            while got < 2_000_000:
                got += len(conn.recv(1 << 20))
            conn.close()
    after = devices.counters(time.time())
    raw_after = psutil.net_io_counters(pernic=True)
    lo = [n for n, s in psutil.net_if_stats().items() if n == "lo" or "loopback" in s.flags]
    if not lo:
        pytest.skip("this host has no loopback interface")
    loop_bytes = sum(raw_after[n].bytes_recv - raw_before[n].bytes_recv for n in lo)
    assert loop_bytes >= 2_000_000
    ours = after["net_recv_bytes"] - before["net_recv_bytes"]
    assert ours < loop_bytes / 2  # whatever else moved meanwhile, not our 2 MB


def test_disk_counters_missing_give_no_disk_metrics(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(system.psutil, "disk_io_counters", lambda perdisk=False: None)
    counters = DeviceSampler(sys_root=tmp_path).counters(0.0)
    assert not any(k.startswith("disk_") for k in counters)


def test_process_table_on_the_real_host() -> None:
    sampler = ProcessSampler(every_s=5.0, top_n=5)
    now = time.time()
    assert not sampler.due(now)  # nobody watches: no pass
    sampler.watch(now)
    assert sampler.due(now)
    first = sampler.sample(now)
    assert first.window_s is None and all(r.cpu_percent is None for r in first.by_cpu)
    assert sampler.due(now + 1.0)  # after a baseline, the next pass comes in 1 s
    burn_until = time.process_time() + 0.3
    while time.process_time() < burn_until:  # this process is busy: it must top the CPU list
        pass
    second = sampler.sample(time.time())
    assert second.window_s is not None and second.window_s > 0
    assert 0 < len(second.by_cpu) <= 5 and second.count >= len(second.by_cpu)
    assert second.by_cpu[0].cpu_percent is not None and second.by_cpu[0].cpu_percent > 0
    mine = next(r for r in second.by_cpu if r.pid == os.getpid())
    assert mine.command and len(mine.command) <= 160  # the rows shown carry command lines
    rss = [r.rss_bytes for r in second.by_memory]
    assert rss == sorted(rss, reverse=True) and all(
        0 <= r.memory_percent <= 100 for r in second.by_memory
    )
    assert not sampler.due(second.timestamp + 1.0)  # then every_s
    assert sampler.due(second.timestamp + 5.0)
    assert not sampler.due(now + 61.0 + 5.0)  # a minute unwatched: off again


def test_process_sampler_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="got 0"):
        ProcessSampler(every_s=0)


def test_slow_values_come_every_5_s_and_rates_every_tick(tmp_path: Path) -> None:
    collector = metrics_collector.MetricsCollector(tmp_path, probe_url=None)
    t0 = time.time()
    seen = [set(collector.collect(t0 + dt).values) for dt in (0.0, 1.0, 2.0, 5.0)]
    slow = {"memory_used_bytes", "memory_available_bytes", "fs_used_percent:/"}
    assert slow <= seen[0] and slow <= seen[3]
    assert not slow & (seen[1] | seen[2])
    assert not any(":" in k for k in seen[1] | seen[2])  # per-device rates: the slow beat too
    counted = [i.name for i in collector.devices.interfaces.values() if i.counted]
    assert {f"net_recv_bytes_per_s:{n}" for n in counted} <= seen[3]  # averaged over 5 s
    assert "memory_percent" in seen[1] and "net_recv_bytes_per_s" in seen[1]
    assert set(collector.slow_values) >= slow
