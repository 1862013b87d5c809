"""The capacity chart before the scaling engine has a forecast: no legend entry for a line
that is not drawn, and a sentence saying why there is none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import open_page, run_monitor

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LEGEND = """() => {
  const chart = Chart.getChart("capacity-chart");
  if (!chart || !chart.data.datasets[0].data.length) return null;
  return chart.legend.legendItems.map((item) => item.text);
}"""


def test_no_forecast_legend_entry_without_a_forecast_line(browser: Any, tmp_path: Path) -> None:
    """ "forecast used" sat in the legend with no line while the engine was learning."""
    # No live models: the engine decides reactively throughout, so it never has a forecast.
    env = {"FORESIGHT_LIVE_MODELS": "0", "SCALING_INTERVAL": "2"}
    with run_monitor(tmp_path, extra_env=env) as base:
        errors: list[str] = []
        page = open_page(browser, f"{base}/", errors)
        items = page.wait_for_function(LEGEND, timeout=60_000).json_value()
        assert "demand (units)" in items and "ready" in items, items
        assert not [t for t in items if t.startswith("forecast")], items
        why = page.locator("#capacity-no-forecast")
        assert why.is_visible(), "no word on the missing forecast line"
        assert why.inner_text().startswith("No forecast line"), why.inner_text()
        page.close()
        assert not errors, errors
