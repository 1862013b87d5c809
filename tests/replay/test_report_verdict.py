"""The replay report's verdict line and its colours (issue 14, part 6)."""

from __future__ import annotations

import re

import pytest

from foresight.replay.report import COLOURS, FORECAST_COLOUR, render, verdict
from foresight.replay.simulation import PolicyMetrics


def _m(overload_minutes: float, cost: float) -> PolicyMetrics:
    return PolicyMetrics(
        cost=cost,
        instance_hours=cost * 10,
        overload_minutes=overload_minutes,
        overload_ratio=0.0,
        mean_slack=0.3,
        actions=1,
        scale_ups=1,
        scale_downs=0,
    )


@pytest.mark.parametrize(
    "metrics, expected",
    [
        # The example: 80 % fewer overloaded minutes at 4 % more cost.
        (
            {"reactive": _m(100, 50.0), "hybrid": _m(20, 52.0), "threshold": _m(300, 40.0)},
            "hybrid: 80 % fewer overloaded minutes than reactive at 4 % more cost",
        ),
        # Reactive itself best: compared with the runner-up instead.
        (
            {"reactive": _m(10, 50.0), "hybrid": _m(40, 45.0)},
            "reactive: 75 % fewer overloaded minutes than hybrid at 11 % more cost",
        ),
        # Ties on overload go to the cheaper policy.
        (
            {"reactive": _m(0, 50.0), "predictive": _m(0, 40.0)},
            "predictive: no overloaded minutes, like reactive at 20 % less cost",
        ),
        ({"hybrid": _m(5, 10.0)}, "hybrid: 5 overloaded minutes at 10.00 USD"),
        ({}, "no policies were replayed"),
    ],
)
def test_verdict_is_computed_from_the_figures(metrics, expected) -> None:
    assert verdict(metrics) == expected


def test_report_carries_the_verdict_and_distinct_colours() -> None:
    from foresight.replay.scenarios import lms_scenario
    from foresight.replay.simulation import replay

    scenario = lms_scenario(days=2, step_s=300.0)
    result = replay(scenario.timestamps, scenario.demand, step_s=300.0, boot_s=300.0)
    page = render(result, title="t")
    line = re.search(r'<p class="verdict" id="verdict">Verdict: (.*?)\.</p>', page)
    assert line and line.group(1) == verdict(result.metrics)
    colours = [c.lower() for c in [*COLOURS.values(), FORECAST_COLOUR]]
    assert len(set(colours)) == len(colours)
    for name in result.metrics:
        assert f'data-policy="{name}"' in page  # a toggle per policy
