"""Multivariate incidents on the shared SMD machines: event recall and false alarms per day.

    .venv/bin/python bench/bench_smd.py                    # all shared machines
    .venv/bin/python bench/bench_smd.py --machines machine-1-2 --warm-days 2

For each machine, every one of its 38 metrics gets its own streaming ``AnomalyDetector``
(the defaults, min_change 0: the metrics are unit-less), warmed on the last
``--warm-days`` of the training part and then run over the test part. Alerts across
metrics become episodes with the live monitor's ``EpisodeTracker`` (a temporary store; an
episode closes after ``--close-after-min`` quiet minutes), so one incident moving many
metrics is one episode naming them.

Scored per *event* (a run of labelled minutes), without point adjustment: an event is
detected when an episode *starts* inside it; an episode starting outside every event is a
false alarm. Reported: events detected / events, false alarms per day of test data, the
detection delay, and for detected events whether the episode names at least one of the
metrics the SMD interpretation labels list. Beside it, in the same run and through the
same episode grouping: a per-metric rolling z-score (mean and sd of the previous day),
alerting at |z| >= 3, 4, 5, 6, 8 and 10. Writes bench/out/smd.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_json  # noqa: E402

from foresight.live.episodes import EpisodeTracker, PointScore  # noqa: E402
from foresight.models.anomaly import AnomalyDetector  # noqa: E402
from foresight.store.metric_store import MetricStore  # noqa: E402

SMD = ROOT.parent / "shared" / "data" / "smd"
STEP_S = 60.0
Z_LEVELS = (3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def load(machine: str, warm_days: float) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    train = pd.read_csv(SMD / f"{machine}_train.csv.gz")
    test = pd.read_csv(SMD / f"{machine}_test.csv.gz")
    warm = train.tail(int(warm_days * 1440))
    labelled: dict[tuple[int, int], set[str]] = {}
    for line in (SMD / f"{machine}_interpretation_label.txt").read_text().split():
        rows, metrics = line.split(":")
        lo, hi = (int(x) for x in rows.split("-"))
        labelled[(lo, hi)] = {f"m{int(m) - 1:02d}" for m in metrics.split(",")}
    return warm, test, labelled


def events_of(labels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of 1s as (first row, last row), inclusive."""
    padded = np.concatenate([[0], labels.astype(int), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def ours_scores(warm: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(alert scores, likelihood scores) over the test rows; CPU seconds spent."""
    start = time.process_time()
    detector = AnomalyDetector()
    detector.score_many(warm)
    scores = detector.score_many(test)
    return scores, detector.surprises_, time.process_time() - start


def rolling_z(warm: np.ndarray, test: np.ndarray, window: int = 1440) -> np.ndarray:
    """|z| of each test value against the mean and sd of the previous ``window`` values."""
    both = pd.Series(np.concatenate([warm, test]))
    past = both.shift(1).rolling(window, min_periods=60)
    mean, sd = past.mean().to_numpy(), past.std(ddof=0).to_numpy()
    dev = np.abs(both.to_numpy() - mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 1e-12, dev / sd, np.where(dev > 1e-12, np.inf, 0.0))
    return np.nan_to_num(z[len(warm) :], nan=0.0)


def episodes_from(
    active: dict[str, np.ndarray], alerting: dict[str, np.ndarray], close_after_min: float
) -> list[tuple[int, int, list[str]]]:
    """Group per-metric alerts (bool arrays) with the live EpisodeTracker; (start, end, metrics)."""
    n = len(next(iter(active.values())))
    with tempfile.TemporaryDirectory(prefix="bench_smd_") as tmp:
        store = MetricStore(Path(tmp) / "episodes.db")
        tracker = EpisodeTracker(store, threshold=0.5, close_after_s=close_after_min * STEP_S)
        rows = np.flatnonzero(np.any(np.vstack(list(active.values())), axis=0))
        for row in rows.tolist():
            points = {
                m: PointScore(1.0, 0.0, float(alerting[m][row]), 1.0)
                for m in active
                if active[m][row]
            }
            tracker.observe(row * STEP_S, points)
        tracker.observe((n + close_after_min + 1) * STEP_S, {})  # close the last one
        found = [
            (int(e["start"] / STEP_S), int(e["end"] / STEP_S), e["metrics"])
            for e in tracker.recent(limit=100_000)
        ]
        store.close()
    return sorted(found)


def evaluate(
    episodes: list[tuple[int, int, list[str]]],
    events: list[tuple[int, int]],
    labelled: dict[tuple[int, int], set[str]],
    n_rows: int,
) -> dict:
    detected, delays, named = 0, [], 0
    starts = np.array([e[0] for e in episodes], dtype=int)
    inside = np.zeros(len(episodes), dtype=bool)
    for lo, hi in events:
        hits = np.flatnonzero((starts >= lo) & (starts <= hi))
        inside[hits] = True
        if len(hits):
            detected += 1
            delays.append(int(starts[hits[0]] - lo))
            truth = set().union(*(m for (a, b), m in labelled.items() if a <= hi and b >= lo))
            if truth & set(episodes[hits[0]][2]):
                named += 1
    days = n_rows / 1440.0
    return {
        "events": len(events),
        "detected": detected,
        "false_alarms": int(np.sum(~inside)),
        "false_alarms_per_day": float(np.sum(~inside) / days),
        "median_delay_min": float(np.median(delays)) if delays else None,
        "named_labelled_metric": named,
        "episodes": len(episodes),
    }


def run_machine(machine: str, warm_days: float, close_after_min: float) -> dict:
    warm, test, labelled = load(machine, warm_days)
    metrics = [c for c in test.columns if c.startswith("m")]
    events = events_of(test["label"].to_numpy())
    cpu_s = 0.0
    active, alerting = {}, {}
    z_scores = {}
    baseline_s = 0.0
    threshold = AnomalyDetector().threshold
    for m in metrics:
        w, t = warm[m].to_numpy(float), test[m].to_numpy(float)
        scores, surprise, spent = ours_scores(w, t)
        cpu_s += spent
        alerting[m] = scores >= threshold
        active[m] = alerting[m] | (surprise >= threshold)
        start = time.process_time()
        z_scores[m] = rolling_z(w, t)
        baseline_s += time.process_time() - start
    ours = evaluate(episodes_from(active, alerting, close_after_min), events, labelled, len(test))
    ours["us_per_point"] = 1e6 * cpu_s / (len(metrics) * (len(warm) + len(test)))
    baseline = {}
    for level in Z_LEVELS:
        flags = {m: z >= level for m, z in z_scores.items()}
        baseline[f"z>={level:g}"] = evaluate(
            episodes_from(flags, flags, close_after_min), events, labelled, len(test)
        )
    return {
        "ours": ours,
        "rolling_z": baseline,
        "test_days": len(test) / 1440.0,
        "baseline_us_per_point": 1e6 * baseline_s / (len(metrics) * (len(warm) + len(test))),
    }


def describe(label: str, r: dict) -> str:
    delay = "-" if r["median_delay_min"] is None else f"{r['median_delay_min']:.0f} min"
    return (
        f"    {label:<14} events {r['detected']:>3}/{r['events']:<3} "
        f"false alarms/day {r['false_alarms_per_day']:6.2f}  median delay {delay:>7}  "
        f"episode names a labelled metric {r['named_labelled_metric']}/{r['detected']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", nargs="*", default=None, help="default: every machine")
    parser.add_argument("--warm-days", type=float, default=3.0, help="training days to warm on")
    parser.add_argument("--close-after-min", type=float, default=5.0, help="episode gap, min")
    args = parser.parse_args()
    if not SMD.is_dir():
        print(f"bench_smd: skipped: no SMD data at {SMD}")
        return 0
    machines = args.machines or sorted(
        p.name.removesuffix("_test.csv.gz") for p in SMD.glob("*_test.csv.gz")
    )
    result: dict = {"machines": {}, "warm_days": args.warm_days}
    total: dict[str, dict] = {}
    for machine in machines:
        r = run_machine(machine, args.warm_days, args.close_after_min)
        result["machines"][machine] = r
        print(
            f"{machine} ({r['test_days']:.1f} test days), {r['ours']['us_per_point']:.1f} us/point:"
        )
        print(describe("ours", r["ours"]))
        for label, b in r["rolling_z"].items():
            print(describe(f"rolling {label}", b))
        for label, s in [("ours", r["ours"]), *r["rolling_z"].items()]:
            t = total.setdefault(label, {"events": 0, "detected": 0, "false_alarms": 0})
            t["events"] += s["events"]
            t["detected"] += s["detected"]
            t["false_alarms"] += s["false_alarms"]
        sys.stdout.flush()
    days = sum(r["test_days"] for r in result["machines"].values())
    print(f"all {len(machines)} machines, {days:.1f} test days:")
    for label, t in total.items():
        t["recall"] = t["detected"] / t["events"] if t["events"] else None
        t["false_alarms_per_day"] = t["false_alarms"] / days
        name = label if label == "ours" else f"rolling {label}"
        print(
            f"    {name:<14} event recall {t['detected']}/{t['events']} "
            f"({100 * (t['recall'] or 0):.0f} %), false alarms/day {t['false_alarms_per_day']:.2f}"
        )
    result["total"] = total
    print(f"wrote {write_json('smd', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
