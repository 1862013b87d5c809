"""The top processes by CPU and by memory, as Glances and top show them.

One ``psutil.process_iter`` pass over ~125 processes costs ~10 ms of CPU here, so it
runs on its own slow beat (``every_s``, 5 s) in the scheduler, never per request, and
only while someone is looking: a request for the table (``watch(now)``) keeps the
sampling on for ``watch_s`` (60 s). Unwatched, the monitor pays nothing for it.

CPU is measured from ``cpu_times`` deltas between two passes (user + system seconds over
wall seconds, in percent of ONE core, top's convention: a process busy on two cores
shows 200 %). The first pass after a pause only takes the baseline, so the table
carries ``window_s``: the seconds the CPU figures cover.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import psutil

logger = logging.getLogger(__name__)

EVERY_S = 5.0
WATCH_S = 60.0
TOP_N = 10
COMMAND_CHARS = 160
ATTRS = ["name", "cpu_times", "memory_info", "create_time"]


@dataclass(frozen=True, slots=True)
class ProcessRow:
    """One process: CPU in percent of one core, memory as RSS bytes and percent of RAM."""

    pid: int
    name: str
    cpu_percent: float | None  # None: first pass for this process (no delta yet)
    memory_percent: float
    rss_bytes: int
    command: str = ""  # the command line (shortened); "" when unreadable or a kernel thread

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "name": self.name,
            "command": self.command,
            "cpu_percent": self.cpu_percent,
            "memory_percent": self.memory_percent,
            "rss_bytes": self.rss_bytes,
        }


@dataclass(frozen=True, slots=True)
class ProcessTable:
    """One pass: when, over what CPU window, how many processes, and the two top lists."""

    timestamp: float
    window_s: float | None  # None: a baseline pass, no CPU figures yet
    count: int
    by_cpu: tuple[ProcessRow, ...]
    by_memory: tuple[ProcessRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "window_s": self.window_s,
            "count": self.count,
            "by_cpu": [r.to_dict() for r in self.by_cpu],
            "by_memory": [r.to_dict() for r in self.by_memory],
        }


def command_of(process: psutil.Process) -> str:
    """The command line, joined and cut to ``COMMAND_CHARS`` ("" if it cannot be read)."""
    try:
        text = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return ""
    return text if len(text) <= COMMAND_CHARS else text[: COMMAND_CHARS - 1] + "…"


class ProcessSampler:
    """Sample the process table at ``every_s`` while watched; keep the latest pass."""

    def __init__(
        self, *, every_s: float = EVERY_S, watch_s: float = WATCH_S, top_n: int = TOP_N
    ) -> None:
        if every_s <= 0 or watch_s <= 0 or top_n < 1:
            raise ValueError(
                f"every_s and watch_s must be > 0 and top_n >= 1 "
                f"(got {every_s!r}, {watch_s!r}, {top_n!r})"
            )
        self.every_s = every_s
        self.watch_s = watch_s
        self.top_n = top_n
        self._cpu_s: dict[tuple[int, float], float] = {}  # (pid, create_time) -> CPU seconds
        self._commands: dict[tuple[int, float], str] = {}  # read once per process
        self._sampled_at: float | None = None
        self._watched_at: float | None = None
        self._latest: ProcessTable | None = None
        self._lock = threading.Lock()
        self.passes = 0
        self.wakeup: Callable[[], None] | None = None  # run the job now (set by its scheduler)

    def watch(self, now: float) -> None:
        """Someone asked for the table: keep sampling for ``watch_s`` seconds from ``now``
        (and, when it was unwatched, wake the job so the first pass comes at once)."""
        was_watched = self.watched(now)
        self._watched_at = now
        if not was_watched and self.wakeup is not None:
            self.wakeup()

    def watched(self, now: float) -> bool:
        return self._watched_at is not None and now - self._watched_at < self.watch_s

    def due(self, now: float) -> bool:
        """Whether a pass should run at ``now`` (watched, and ``every_s`` since the last;
        right after a baseline pass, 1 s suffices so the first table comes quickly)."""
        if not self.watched(now):
            return False
        last, table = self._sampled_at, self._latest
        if last is None or now < last:
            return True
        wait_s = (
            min(1.0, self.every_s)
            if table is not None and table.window_s is None
            else (self.every_s)
        )
        return now - last >= wait_s - 1e-3

    def latest(self) -> ProcessTable | None:
        """The newest pass (None before the first)."""
        return self._latest

    def sample(self, now: float) -> ProcessTable:
        """Read every process once (``now``: epoch seconds of the pass)."""
        with self._lock:
            last = self._sampled_at
            # A stale baseline (paused longer than two beats) would average CPU over
            # minutes: start again instead.
            fresh = last is not None and 0 < now - last <= 2 * self.every_s + 1.0
            window_s = now - last if fresh and last is not None else None
            total_ram = float(psutil.virtual_memory().total) or 1.0
            cpu_now: dict[tuple[int, float], float] = {}
            rows: list[ProcessRow] = []
            procs: dict[int, tuple[tuple[int, float], psutil.Process]] = {}
            for p in psutil.process_iter(ATTRS, ad_value=None):
                info = p.info
                times, mem = info.get("cpu_times"), info.get("memory_info")
                if times is None or mem is None:  # vanished, or access denied
                    continue
                key = (p.pid, float(info.get("create_time") or 0.0))
                used_s = float(times.user + times.system)
                cpu_now[key] = used_s
                procs[p.pid] = (key, p)
                cpu: float | None = None
                if window_s is not None and key in self._cpu_s:
                    cpu = round(max(0.0, used_s - self._cpu_s[key]) / window_s * 100.0, 2)
                rows.append(
                    ProcessRow(
                        p.pid,
                        str(info.get("name") or ""),
                        cpu,
                        round(100.0 * mem.rss / total_ram, 2),
                        int(mem.rss),
                    )
                )
            self._cpu_s, self._sampled_at = cpu_now, now
            by_cpu = sorted(rows, key=lambda r: (-(r.cpu_percent or 0.0), -r.rss_bytes, r.pid))
            by_memory = sorted(rows, key=lambda r: (-r.rss_bytes, r.pid))
            # Command lines only for the rows shown, read once per process: not ~125 reads.
            shown = {r.pid for r in by_cpu[: self.top_n] + by_memory[: self.top_n]}
            known, self._commands = self._commands, {}
            commands = {}
            for pid in shown:
                key, proc = procs[pid]
                command = known[key] if key in known else command_of(proc)
                commands[pid] = self._commands[key] = command
            table = ProcessTable(
                round(now, 3),
                None if window_s is None else round(window_s, 3),
                len(rows),
                tuple(replace(r, command=commands[r.pid]) for r in by_cpu[: self.top_n]),
                tuple(replace(r, command=commands[r.pid]) for r in by_memory[: self.top_n]),
            )
            self._latest = table
            self.passes += 1
            return table

    def tick(self, now: float) -> ProcessTable | None:
        """Run a pass when one is due (the scheduler's job calls this every ``every_s``,
        and 1 s after a baseline pass)."""
        return self.sample(now) if self.due(now) else None
