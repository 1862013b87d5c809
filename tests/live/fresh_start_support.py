"""Replay a real 10-second trace into a fresh live monitor and score the bands it drew.

The Alibaba 2018 cluster trace (``../shared/data/traces``, 10-s means over ~4,000
machines) is written into an empty store one bucket at a time, as a monitor started at
its first row would see it; the model job (``LiveModels.run``, fitting in-process, the
5-minute tier alone) runs every ``job_s`` seconds of trace time. Every forecast the job
draws is kept, and each of its steps is scored against the trace's actual bucket: the
80 % coverage of the first ``minutes`` of a fresh start, whatever model was served.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TRACE = "alibaba2018_cluster_usage_10s_days3-8.csv"
COLUMNS = ("cpu_util_percent", "mem_util_percent", "net_in", "net_out", "disk_io_percent")
METRIC_OF = {  # the trace's columns under names the catalog knows (units, bounds)
    "cpu_util_percent": "cpu_percent",
    "mem_util_percent": "memory_percent",
    "net_in": "net_recv_bytes_per_s",
    "net_out": "net_sent_bytes_per_s",
    "disk_io_percent": "disk_percent",
}
START = 1_800_000_000.0  # a bucket boundary of every tier


def load_trace(shared: Path) -> dict[str, np.ndarray]:
    """The trace's columns as arrays of 10-s means, keyed by the monitor's metric names."""
    raw = np.genfromtxt(shared / "traces" / TRACE, delimiter=",", names=True)
    return {METRIC_OF[c]: np.asarray(raw[c], dtype=float) for c in COLUMNS}


@dataclass(frozen=True, slots=True)
class Coverage:
    """Scored forecast steps of one metric: how many, how many inside each band."""

    n: int
    inside_80: int
    point_inside: bool  # every drawn point lay inside its own 80 % band
    models: tuple[str, ...]  # the models served, in order of first appearance

    @property
    def coverage_80(self) -> float:
        return self.inside_80 / self.n if self.n else math.nan


def replay_fresh_start(
    store,
    series: dict[str, np.ndarray],
    *,
    offset: int,
    minutes: float,
    job_s: float = 15.0,
    step_s: float = 10.0,
) -> dict[str, Coverage]:
    """Start a monitor on ``store`` (empty) at row ``offset`` of ``series`` and run it.

    Returns, per metric, the coverage of every forecast step whose target bucket lies
    within the first ``minutes`` (the forecasts are made from the first job on).
    """
    from foresight.live.models import SHORT_TIER, LiveModels

    names = sorted(series)
    live = LiveModels(store, lambda: names, tiers=(SHORT_TIER,))
    live.budget_s = 600.0  # every due fit runs: the test is about bands, not budgets
    end = START + minutes * 60.0
    drawn: dict[str, list] = {m: [] for m in names}
    written = 0
    now = START
    while now < end:
        now += job_s
        due = int((now - START) // step_s)  # buckets completed by now
        if due > written:
            # One sample a second, a few ms after it as the live sampler writes them,
            # each the bucket's mean (the trace has no finer values).
            store.append_many(
                (START + i * step_s + k + 0.004, {m: float(series[m][offset + i]) for m in names})
                for i in range(written, due)
                for k in range(int(step_s))
            )
            written = due
        live.run(now)
        for m in names:
            state = live.state(m, SHORT_TIER)
            if state.forecast is not None and state.forecast_made_at == now:
                drawn[m].append((state.model, state.forecast))
    out = {}
    for m in names:
        n = inside = 0
        point_inside = True
        models: list[str] = []
        for model, fc in drawn[m]:
            if model not in models:
                models.append(model)
            point_inside &= bool(np.all((fc.lower_80 <= fc.mean) & (fc.mean <= fc.upper_80)))
            start = fc.timestamps - step_s / 2  # each step's bucket start
            row = np.rint((start - START) / step_s).astype(int)
            ok = start < end
            actual = series[m][offset + row[ok]]
            n += int(ok.sum())
            inside += int(np.sum((actual >= fc.lower_80[ok]) & (actual <= fc.upper_80[ok])))
        out[m] = Coverage(n, inside, point_inside, tuple(models))
    return out
