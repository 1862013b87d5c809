"""Crash risk from forecast bands: exact probabilities, levels, the combination rule."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.risk.crash import Bands, CrashLevel, crash_level, crash_risk, exceed_probability

Z80, Z95 = 1.2815515655446004, 1.959963984540054


def bands(mean: list[float], sigma: float, t0: float = 0.0, step: float = 60.0) -> Bands:
    m = np.array(mean)
    return Bands(t0 + step * (1 + np.arange(len(m))), m, m + Z80 * sigma, m + Z95 * sigma)


def test_exceed_probability_reads_the_bands_as_normal() -> None:
    p = exceed_probability(bands([90.0, 80.0, 100.0], 5.0), 90.0)
    assert p[0] == pytest.approx(0.5)
    assert p[1] == pytest.approx(0.02275, abs=1e-4)  # 2 sigma below
    assert p[2] == pytest.approx(0.97725, abs=1e-4)


@pytest.mark.parametrize(
    "score, level",
    [
        (0.0, "Low"),
        (0.25, "Low"),
        (0.26, "Medium"),
        (0.5, "Medium"),
        (0.51, "High"),
        (0.75, "High"),
        (0.76, "Critical"),
        (1.0, "Critical"),
    ],
)
def test_levels(score: float, level: str) -> None:
    assert crash_level(score).value == level


def test_score_combines_factors_and_names_the_crossing() -> None:
    forecasts = {
        "cpu_percent": bands([70, 80, 90, 95], 5.0),  # mean crosses 90 at the 3rd step
        "api_response_ms": bands([200, 240, 250], 10.0),  # p = 0.5 at its peak
        "db_query_ms": bands([100, 100], 10.0),  # far below 400: not a factor
        "memory_percent": bands([99, 99], 1.0),  # no crash level: not checked
    }
    risk = crash_risk(forecasts, now=0.0, horizon_s=240.0, disk_critical=90.0)
    by_metric = {f.metric: f for f in risk.factors}
    assert set(by_metric) == {"cpu_percent", "api_response_ms"}
    cpu = by_metric["cpu_percent"]
    assert cpu.probability == pytest.approx(0.8413, abs=1e-3)  # 95 vs 90 at sigma 5
    assert cpu.crossing_at == 180.0 and cpu.earliest_at == 180.0  # 80 ± 5 is 2σ short
    api = by_metric["api_response_ms"]
    assert api.probability == pytest.approx(0.5) and api.crossing_at == 180.0
    assert risk.score == pytest.approx(1 - (1 - 0.8413) * 0.5, abs=1e-3)
    assert risk.level is CrashLevel.CRITICAL
    assert risk.factors[0].metric == "cpu_percent"  # largest first
    assert set(risk.metrics_checked) == {"cpu_percent", "api_response_ms", "db_query_ms"}


def test_steps_beyond_the_horizon_do_not_count() -> None:
    risk = crash_risk({"cpu_percent": bands([50, 50, 99], 1.0)}, 0.0, 120.0)
    assert risk.score == 0.0 and risk.level is CrashLevel.LOW and not risk.factors


def test_disk_uses_its_critical_level() -> None:
    risk = crash_risk({"disk_percent": bands([91.0], 0.5)}, 0.0, 3600.0, disk_critical=90.0)
    assert risk.factors[0].metric == "disk_percent" and risk.factors[0].critical == 90.0
