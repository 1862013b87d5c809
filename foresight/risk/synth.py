"""Synthetic LMS metrics with labelled incidents (seed 000), for trying the pipeline out.

Daily and weekly cycles, an exam period every 2 weeks for 3 days, DB and API latency that
follow the load, storage that grows. Degradation episodes (a slow leak, a hot query)
build up over tens of minutes; an incident row is one inside a run of at least 5 minutes
with the API beyond its critical 250 ms. Never use it for accuracy figures: the data is
made to be learnable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_S = 86_400.0
API_CRITICAL_MS = 250.0
COLUMNS = (
    "cpu_usage",
    "memory_usage",
    "disk_usage",
    "network_latency_ms",
    "error_count",
    "response_time_ms",
    "active_connections",
    "db_query_ms",
    "api_response_ms",
)


@dataclass(frozen=True, slots=True)
class SynthFrame:
    """Times (epoch s), the metric columns (rows × COLUMNS) and the incident flags."""

    timestamps: np.ndarray
    values: np.ndarray
    incident: np.ndarray


def _runs_at_least(flags: np.ndarray, min_rows: int) -> np.ndarray:
    out = np.zeros(len(flags), dtype=bool)
    idx = np.flatnonzero(flags)
    if len(idx) == 0:
        return out
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks] + 1, [idx[-1] + 1]])
    for s, e in zip(starts, ends, strict=True):
        if e - s >= min_rows:
            out[s:e] = True
    return out


def synth(days: float, start_s: float, step_s: float = 60.0, seed: int = 0) -> SynthFrame:
    """Generate ``days`` of metrics every ``step_s`` seconds from ``start_s`` (epoch s)."""
    if not days > 0:
        raise ValueError(f"days must be > 0 (got {days})")
    rng = np.random.default_rng(seed)
    n = max(2, int(days * DAY_S / step_s))
    t = start_s + step_s * np.arange(n)
    day_phase = 2 * np.pi * ((t % DAY_S) / DAY_S)
    weekday = ((t // DAY_S) + 3) % 7  # epoch day 0 was a Thursday
    daily = 0.5 - 0.4 * np.cos(day_phase - 0.6)  # low at night, peak in the afternoon
    weekly = np.where(weekday >= 5, 0.6, 1.0)
    exam = (((t - start_s) // DAY_S) % 14) < 3  # 3 exam days every 2 weeks
    load = np.clip(daily * weekly * np.where(exam, 1.6, 1.0) + rng.normal(0, 0.04, n), 0, 2)

    # degradation episodes: a ramp over 20-60 min, then a plateau of 5-40 min
    stress = np.zeros(n)
    n_episodes = max(1, int(days * 0.8))
    for start in rng.integers(0, n, n_episodes):
        ramp = int(rng.uniform(20, 60) * 60 / step_s)
        hold = int(rng.uniform(5, 40) * 60 / step_s)
        end = min(n, start + ramp + hold)
        shape = np.concatenate([np.linspace(0, 1, ramp), np.ones(hold)])[: end - start]
        stress[start:end] = np.maximum(stress[start:end], shape * rng.uniform(0.8, 1.3))

    cpu = np.clip(15 + 55 * load + 25 * stress + rng.normal(0, 3, n), 0, 100)
    memory = np.clip(40 + 20 * load + 30 * stress + rng.normal(0, 2, n), 0, 100)
    disk = np.clip(35 + 30 * (t - start_s) / (days * DAY_S) + rng.normal(0, 0.2, n), 0, 100)
    connections = np.maximum(0, 50 + 400 * load + rng.normal(0, 15, n)).round()
    db = np.maximum(5, 60 + 120 * load**2 + 300 * stress + rng.normal(0, 10, n))
    api = np.maximum(5, 70 + 60 * load**2 + 0.4 * db * stress + 150 * stress + rng.normal(0, 8, n))
    latency = np.maximum(1, 20 + 10 * load + 40 * stress + rng.normal(0, 3, n))
    errors = rng.poisson(0.5 + 2 * load + 30 * stress**2)
    response = api + latency + rng.normal(0, 5, n)
    values = np.column_stack(
        [cpu, memory, disk, latency, errors, response, connections, db, api]
    ).astype(float)
    incident = _runs_at_least(api > API_CRITICAL_MS, max(1, round(300 / step_s)))
    return SynthFrame(t, values, incident)
