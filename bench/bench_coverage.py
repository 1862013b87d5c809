"""Choose the band calibration on one part of the shared traces, report it on another.

    .venv/bin/python bench/bench_coverage.py                       # every case, ~10-15 min
    .venv/bin/python bench/bench_coverage.py --cases ali300_1h ali10s_24h

The point forecasts do not depend on how the bands are calibrated, so each case (the six
of ``bench_forecast.py``: three shared traces at 1 h and 24 h) is put through
``backtest``'s protocol once (``point_forecasts``: the model chosen on validation origins
inside the first 70 %, refitted over the test origins in the last 30 %), and then every
calibration in ``GRID`` is scored from the same forecasts:

* **choosing part**: the chosen model's validation origins only (all before the first
  test origin). Their first 60 % make the pool (calibrated exactly as served, warm-up
  included), their last 40 % are walked by ACI as pseudo-test origins. The choice is
  the calibration with the smallest worst-case |80 % coverage - 80 %| over the cases,
  ties (within 0.5 points) to the smaller mean, then to the earlier row of ``GRID``
  (simplest first). Fixed before any figure was seen.
* **report part**: the test origins (the last 30 %), calibrated on every validation
  origin, as ``backtest`` and the live monitor serve it. No choice looks at it.
* **cross-check, leave one trace out**: the same criterion on the *test* coverage of two
  traces chooses for the third, whose test coverage is reported; three folds. It shows
  whether a choice carries over between traces; it does not set the default.

Every case is printed beside the baselines' MASE on the same test pairs (the bands
never move the point forecast). Writes bench/out/coverage.json.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_json  # noqa: E402
from bench_forecast import CASES, COVERAGE_80, MASE_SLACK, TRACES  # noqa: E402

from foresight.evaluation.backtest import PointForecasts, bands_on_origins, point_forecasts  # noqa: E402
from foresight.evaluation.metrics import mase_on  # noqa: E402
from foresight.models.conformal import (  # noqa: E402
    BANDS,
    SPREAD_WINDOW,
    BandSettings,
    calibrate,
    conformal_scores,
    run_aci,
)

logger = logging.getLogger("bench_coverage")

PSEUDO_SPLIT = 0.6  # of the validation origins: pool before, pseudo-test after
TIE = 0.005
# Simplest first: plain split conformal (no ACI), then ACI with growing steps.
GRID: tuple[BandSettings, ...] = tuple(
    BandSettings(gamma=g, warm=w, pool_fraction=p, spread_window=sw)
    for g in (0.0, 0.005, 0.01, 0.02, 0.05)
    for w in ((False,) if g == 0.0 else (False, True))
    for sw in (SPREAD_WINDOW, 0)
    for p in (1.0, 0.5)
)
TRACE_OF = {name: name.split("_")[0] for name in CASES}


def choosing_coverage(f: PointForecasts, settings: BandSettings) -> float:
    """80 % coverage on the last 40 % of the validation origins, pool from the first 60 %."""
    chosen = f.chosen
    if chosen.validation_origins is None or chosen.validation_mean is None:
        raise ValueError("the selection kept no validation forecasts")
    origins, mean = chosen.validation_origins, chosen.validation_mean
    history = f.raw[: int(f.origins[0])]
    offset = chosen.conformal.offset
    scores = conformal_scores(history, origins, mean, offset, settings.spread_window)
    split = int(len(origins) * PSEUDO_SPLIT)
    state = calibrate(scores[:split], origins[:split], offset, settings=settings)
    walk = scores[split:]
    widths, _ = run_aci(state.pool, walk, origins[split:], gamma=settings.gamma, alpha=state.alpha)
    seen = ~np.isnan(walk)
    return float(np.mean(walk[seen] <= widths[80][seen]))


def report_coverage(f: PointForecasts, settings: BandSettings) -> dict[str, float]:
    """80 % and 95 % coverage on the test origins, calibrated as served."""
    chosen = f.chosen
    assert chosen.validation_origins is not None and chosen.validation_mean is not None
    history = f.raw[: int(f.origins[0])]
    offset = chosen.conformal.offset
    scores = conformal_scores(
        history, chosen.validation_origins, chosen.validation_mean, offset, settings.spread_window
    )
    state = calibrate(scores, chosen.validation_origins, offset, settings=settings)
    bands = bands_on_origins(f, state)
    y, m = f.actual, f.mask
    return {
        f"coverage_{lv}": float(
            ((y >= bands[f"lower_{lv}"]) & (y <= bands[f"upper_{lv}"]))[m].mean()
        )
        for lv in (80, 95)
    }


def pick(table: dict[str, dict[str, float]], cases: list[str]) -> str:
    """The criterion: smallest worst |cov - 0.8| over ``cases``, ties to the mean, then order."""

    def key(label: str) -> tuple[float, float]:
        gaps = [abs(table[label][c] - 0.8) for c in cases]
        return max(gaps), float(np.mean(gaps))

    labels = list(table)
    best_worst = min(key(lb)[0] for lb in labels)
    near = [lb for lb in labels if key(lb)[0] <= best_worst + TIE]
    best_mean = min(key(lb)[1] for lb in near)
    return next(lb for lb in near if key(lb)[1] <= best_mean + 1e-12)


def accuracy(f: PointForecasts) -> dict[str, float]:
    """MASE of the served model and the baselines on the same test pairs."""
    y, m, s = f.actual, f.mask, f.scale
    out = {
        "mase": mase_on(f.ours - y, m, s),
        "naive_mase": mase_on(f.naive - y, m, s),
        "seasonal_naive_mase": mase_on(f.snaive - y, m, s),
        "linear_lags_mase": mase_on(f.linear - y, m, s),
    }
    out["best_baseline"] = min(
        out["naive_mase"], out["seasonal_naive_mase"], out["linear_lags_mase"]
    )
    out["ratio"] = out["mase"] / out["best_baseline"]
    return out


def print_table(title: str, table: dict[str, dict[str, float]], cases: list[str]) -> None:
    print(f"\n{title}")
    print(f"  {'calibration':<28}" + "".join(f"{c:>12}" for c in cases) + "   worst   mean")
    for label, row in table.items():
        gaps = [abs(row[c] - 0.8) for c in cases]
        print(
            f"  {label:<28}"
            + "".join(f"{100 * row[c]:11.1f}%" for c in cases)
            + f"  {100 * max(gaps):5.1f}  {100 * float(np.mean(gaps)):5.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = parser.parse_args()
    if not TRACES.is_dir():
        print(f"bench_coverage: skipped: no shared traces at {TRACES}")
        return 0
    logging.basicConfig(level=logging.WARNING)
    by_label = {s.label(): s for s in GRID}
    choosing: dict[str, dict[str, float]] = {lb: {} for lb in by_label}
    report: dict[str, dict[str, float]] = {lb: {} for lb in by_label}
    report95: dict[str, dict[str, float]] = {lb: {} for lb in by_label}
    acc: dict[str, dict[str, float]] = {}
    for name in args.cases:
        loader, _step_s, horizon, label, _sf = CASES[name]
        ts, values = loader()
        started = time.perf_counter()
        f = point_forecasts(values, ts, horizon=horizon)
        acc[name] = {**accuracy(f), "model": f.chosen.model}  # type: ignore[dict-item]
        for lb, settings in by_label.items():
            choosing[lb][name] = choosing_coverage(f, settings)
            cov = report_coverage(f, settings)
            report[lb][name] = cov["coverage_80"]
            report95[lb][name] = cov["coverage_95"]
        a = acc[name]
        print(
            f"{name}: {label}; served {f.chosen.model}, MASE {a['mase']:.3f} / best baseline "
            f"{a['best_baseline']:.3f} = {a['ratio']:.3f}; {len(f.origins)} test origins, "
            f"{f.chosen.n_validation_origins} validation origins; "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    cases = list(args.cases)
    print_table(
        "choosing part (validation origins: pool 60 %, walked 40 %), 80 % band", choosing, cases
    )
    print_table("report part (test origins), 80 % band", report, cases)
    chosen = pick(choosing, cases)
    current = BANDS.label()
    print(f"\nchosen on the choosing part: {chosen}   (served now: {current})")
    folds = {}
    for trace in sorted({TRACE_OF[c] for c in cases}):
        held = [c for c in cases if TRACE_OF[c] == trace]
        rest = [c for c in cases if TRACE_OF[c] != trace]
        if not rest:
            continue
        lb = pick(report, rest)
        folds[trace] = {"chosen_on": rest, "choice": lb, "report": {c: report[lb][c] for c in held}}
        print(
            f"leave {trace} out: chosen on {', '.join(rest)} -> {lb}; on {trace}: "
            + ", ".join(f"{c} {100 * report[lb][c]:.1f} %" for c in held)
        )
    print("\nper case (test origins), served calibration before -> the choice:")
    lo, hi = COVERAGE_80
    for c in cases:
        a = acc[c]
        before, after = report[current][c], report[chosen][c]
        print(
            f"  {c:<11} {a['model']:<9} mase/best {a['ratio']:.3f} "
            f"({'ok' if a['ratio'] <= MASE_SLACK else 'MISSES'})  80 % band "
            f"{100 * before:.1f} % -> {100 * after:.1f} % "
            f"({'ok' if lo <= after <= hi else 'MISSES'}), 95 % band "
            f"{100 * report95[current][c]:.1f} % -> {100 * report95[chosen][c]:.1f} %"
        )
    ratios = [acc[c]["ratio"] for c in cases]
    print(f"  geometric mean of mase/best baseline: {float(np.exp(np.mean(np.log(ratios)))):.3f}")
    path = write_json(
        "coverage",
        {
            "grid": [s.to_dict() | {"label": s.label()} for s in GRID],
            "choosing_80": choosing,
            "report_80": report,
            "report_95": report95,
            "accuracy": acc,
            "chosen": chosen,
            "served": current,
            "leave_one_trace_out": folds,
        },
    )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
