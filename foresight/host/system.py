"""Memory split, filesystems, disks and network interfaces of this host, read with psutil.

Per-device metrics are named ``<base>:<device>`` — ``disk_read_bytes_per_s:vda``,
``net_recv_bytes_per_s:eth0``, ``fs_used_percent:/`` — so the catalog finds the unit
from the part before the colon and the store, the API and the dashboard treat them as
ordinary metrics.

Which devices count:

- **interfaces**: never loopback (``lo``, or psutil's ``loopback`` flag). Virtual-only
  devices (under ``/sys/devices/virtual/net``: bridges, veths, ifb, tun) are left out
  too, unless the host has no physical interface at all — a container's ``eth0`` is a
  veth, and it is the only way traffic leaves. The network totals
  (``net_recv_bytes_per_s``, ``net_sent_bytes_per_s``) sum the counted interfaces, so
  loopback traffic no longer makes "received" equal "sent" (issue 12).
- **disks**: whole disks (entries of ``/sys/block``) except memory- and file-backed
  ones (``loop``, ``ram``, ``zram``). The disk totals keep psutil's own sum.
- **filesystems**: psutil's physical partitions, one per device (bind mounts of the same
  device are dropped); when there are none (a container's overlay root), ``/``.

The device lists are re-read every ``refresh_s`` (mounts and interfaces rarely change);
the counters and ``statvfs`` calls they select are read every tick, and cost about as
much as the totals alone did.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger(__name__)

DEVICE_SEP = ":"
REFRESH_S = 60.0
SYS_ROOT = Path("/sys")  # where Linux describes devices (tests lay out their own)
SKIPPED_DISK_PREFIXES = ("loop", "ram", "zram")
# The memory split, in bytes: psutil field -> metric. Absent fields (cached and buffers
# exist on Linux only) are skipped.
MEMORY_FIELDS = {
    "used": "memory_used_bytes",
    "cached": "memory_cached_bytes",
    "buffers": "memory_buffers_bytes",
    "available": "memory_available_bytes",
}


def device_metric(base: str, device: str) -> str:
    """The per-device metric name: ``("fs_used_percent", "/")`` → ``fs_used_percent:/``."""
    return f"{base}{DEVICE_SEP}{device}"


def split_metric(name: str) -> tuple[str, str | None]:
    """``("disk_read_bytes_per_s", "vda")`` for a per-device name, ``(name, None)`` otherwise."""
    base, sep, device = name.partition(DEVICE_SEP)
    return (base, device) if sep and device else (name, None)


def is_slow_metric(name: str) -> bool:
    """A per-device or memory-split metric (stored on the collector's 5-s beat)."""
    return split_metric(name)[1] is not None or name in MEMORY_FIELDS.values()


def rate_name(counter: str) -> str:
    """The rate of a byte counter: ``net_recv_bytes:eth0`` → ``net_recv_bytes_per_s:eth0``."""
    base, device = split_metric(counter)
    return f"{base}_per_s" if device is None else device_metric(f"{base}_per_s", device)


@dataclass(frozen=True, slots=True)
class Interface:
    """A network interface and whether its traffic counts (``reason`` says why not)."""

    name: str
    loopback: bool
    virtual: bool
    up: bool
    counted: bool
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "loopback": self.loopback,
            "virtual": self.virtual,
            "up": self.up,
            "counted": self.counted,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Filesystem:
    """One mounted filesystem's space, in bytes (``used_percent`` as ``df`` shows it)."""

    mountpoint: str
    device: str
    fstype: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    used_percent: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "mountpoint": self.mountpoint,
            "device": self.device,
            "fstype": self.fstype,
            "total_bytes": self.total_bytes,
            "used_bytes": self.used_bytes,
            "free_bytes": self.free_bytes,
            "used_percent": self.used_percent,
        }


def _is_virtual_net(name: str, sys_net: Path) -> bool:
    link = sys_net / name
    if not link.exists():  # not Linux, or gone meanwhile: nothing says it is virtual
        return False
    return "/devices/virtual/" in os.path.realpath(link)


def classify_interfaces(stats: Mapping[str, Any], sys_net: Path) -> dict[str, Interface]:
    """Decide for each interface of ``psutil.net_if_stats()`` whether it counts.

    ``sys_net`` is ``/sys/class/net`` (a parameter so tests can lay out their own).
    """
    raw = {}
    for name, st in stats.items():
        flags = str(getattr(st, "flags", ""))
        loopback = name == "lo" or "loopback" in flags.split(",")
        raw[name] = (loopback, _is_virtual_net(name, sys_net), bool(getattr(st, "isup", True)))
    physical = any(not lb and not virt for lb, virt, _ in raw.values())
    out = {}
    for name, (loopback, virtual, up) in sorted(raw.items()):
        if loopback:
            reason: str | None = "loopback"
        elif virtual and physical:
            reason = "virtual device (the host has a physical interface)"
        else:
            reason = None
        out[name] = Interface(name, loopback, virtual, up, reason is None, reason)
    return out


def whole_disks(names: Iterable[str], sys_block: Path) -> list[str]:
    """The names psutil sums into its disk totals: whole disks (``/sys/block`` entries),
    or every name where ``sys_block`` does not exist (not Linux)."""
    names = list(names)
    if not sys_block.is_dir():
        return sorted(names)
    return sorted(n for n in names if (sys_block / n).exists())


def charted_disks(disks: Iterable[str]) -> list[str]:
    """Whole disks minus memory- and file-backed ones (loop, ram, zram)."""
    return [d for d in disks if not d.startswith(SKIPPED_DISK_PREFIXES)]


def filesystems(partitions: Iterable[Any]) -> list[tuple[str, str, str]]:
    """``(mountpoint, device, fstype)`` of each real mount, one per device (shortest path)."""
    by_device: dict[str, tuple[str, str, str]] = {}
    for p in partitions:
        seen = by_device.get(p.device)
        if seen is None or len(p.mountpoint) < len(seen[0]):
            by_device[p.device] = (p.mountpoint, p.device, p.fstype)
    mounts = sorted(by_device.values())
    if not mounts and Path("/").exists():
        mounts = [("/", "rootfs", "")]
    return mounts


def memory_values(vm: Any) -> dict[str, float]:
    """The memory split of one ``psutil.virtual_memory()`` record, in bytes."""
    return {metric: float(getattr(vm, f)) for f, metric in MEMORY_FIELDS.items() if hasattr(vm, f)}


def memory_totals() -> dict[str, int]:
    """Total RAM and swap in bytes (host facts)."""
    return {
        "memory_total_bytes": int(psutil.virtual_memory().total),
        "swap_total_bytes": int(psutil.swap_memory().total),
    }


class DeviceSampler:
    """Per-device counters and filesystem usage; device lists re-read every ``refresh_s``.

    Not thread-safe on its own: the collector calls it under its lock.
    """

    def __init__(self, *, refresh_s: float = REFRESH_S, sys_root: Path | None = None) -> None:
        self.refresh_s = refresh_s
        self.sys_root = SYS_ROOT if sys_root is None else sys_root
        self._refreshed_at: float | None = None
        self.interfaces: dict[str, Interface] = {}
        self.mounts: list[tuple[str, str, str]] = []
        self.disks: list[str] = []  # whole disks (psutil's totals)
        self.charted: list[str] = []  # whole disks with their own series
        self.filesystems: list[Filesystem] = []  # as of the last tick
        self._disk_names: tuple[str, ...] = ()  # the names self.disks was computed from

    def refresh(self, now: float) -> None:
        """Re-read the interface and mount lists (cheap, but not every tick)."""
        self.interfaces = classify_interfaces(psutil.net_if_stats(), self.sys_root / "class/net")
        self.mounts = filesystems(psutil.disk_partitions(all=False))
        self._refreshed_at = now

    def _refresh_if_due(self, now: float, nics: Iterable[str]) -> None:
        due = self._refreshed_at is None or not (0 <= now - self._refreshed_at < self.refresh_s)
        if due or any(n not in self.interfaces for n in nics):  # a new interface appeared
            self.refresh(now)

    def counters(self, now: float) -> dict[str, float]:
        """Byte counters: totals (``net_recv_bytes``, ``disk_read_bytes``, ...) and per
        device (``net_recv_bytes:eth0``, ``disk_read_bytes:vda``)."""
        out: dict[str, float] = {}
        nics = psutil.net_io_counters(pernic=True)
        self._refresh_if_due(now, nics)
        recv = sent = 0.0
        for name, c in nics.items():
            iface = self.interfaces.get(name)
            if iface is None or not iface.counted:
                continue
            recv += c.bytes_recv
            sent += c.bytes_sent
            out[device_metric("net_recv_bytes", name)] = float(c.bytes_recv)
            out[device_metric("net_sent_bytes", name)] = float(c.bytes_sent)
        if nics:
            out["net_recv_bytes"], out["net_sent_bytes"] = recv, sent
        disks = psutil.disk_io_counters(perdisk=True) or {}  # {} in some containers
        names = tuple(disks)
        if names != self._disk_names:  # a stat() per name: only when the names change
            self.disks = whole_disks(names, self.sys_root / "block")
            self.charted = charted_disks(self.disks)
            self._disk_names = names
        if self.disks:
            out["disk_read_bytes"] = float(sum(disks[d].read_bytes for d in self.disks))
            out["disk_write_bytes"] = float(sum(disks[d].write_bytes for d in self.disks))
        for d in self.charted:
            out[device_metric("disk_read_bytes", d)] = float(disks[d].read_bytes)
            out[device_metric("disk_write_bytes", d)] = float(disks[d].write_bytes)
        return out

    def filesystem_values(self, now: float) -> dict[str, float]:
        """``fs_used_percent:<mount>`` of each filesystem (bytes: ``self.filesystems``;
        one series per mount, since every series also costs a model and a detector)."""
        self._refresh_if_due(now, ())
        out: dict[str, float] = {}
        found = []
        for mountpoint, device, fstype in self.mounts:
            try:
                u = psutil.disk_usage(mountpoint)
            except OSError as exc:  # unmounted since the last refresh, or unreadable
                logger.debug("disk_usage(%r) failed: %s", mountpoint, exc)
                continue
            if u.total <= 0:
                continue
            found.append(
                Filesystem(mountpoint, device, fstype, u.total, u.used, u.free, float(u.percent))
            )
            out[device_metric("fs_used_percent", mountpoint)] = min(100.0, max(0.0, u.percent))
        self.filesystems = found
        return out

    def inventory(self) -> dict[str, Any]:
        """What the devices panel lists: filesystems, disks, interfaces (and why not)."""
        return {
            "filesystems": [f.to_dict() for f in self.filesystems],
            "disks": [{"name": d, "charted": d in self.charted} for d in self.disks],
            "interfaces": [i.to_dict() for i in self.interfaces.values()],
        }
