"""The replay/demo report in a real browser: distinct policy colours, a toggle per policy
that acts on both charts, no legend entry struck through, and the verdict line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import screenshot_dir

pytestmark = [pytest.mark.browser]

CHARTS_JS = """() => ["overall", "zoom"].map((id) => {
  const chart = Chart.getChart(document.getElementById(id));
  return {
    struck: chart.legend.legendItems.filter((i) => i.hidden).map((i) => i.text),
    policies: chart.data.datasets.filter((d) => d.policy).map((d, _, all) => ({
      policy: d.policy, colour: d.borderColor,
      visible: chart.isDatasetVisible(chart.data.datasets.indexOf(d))})),
  };
})"""


def test_report_policies_toggle_and_verdict(tmp_path: Path, browser: Any) -> None:
    from foresight.replay.report import verdict, write_report
    from foresight.replay.scenarios import lms_scenario
    from foresight.replay.simulation import replay

    scenario = lms_scenario(days=3, step_s=300.0)
    result = replay(scenario.timestamps, scenario.demand, step_s=300.0, boot_s=300.0)
    path = write_report(result, tmp_path / "report.html", title="report test")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.wait_for_function("() => Chart.getChart(document.getElementById('zoom'))")
    assert page.locator("#verdict").text_content() == f"Verdict: {verdict(result.metrics)}."
    charts = page.evaluate(CHARTS_JS)
    for chart in charts:
        assert chart["struck"] == [], chart["struck"]
        colours = [p["colour"].lower() for p in chart["policies"]]
        assert len(colours) == len(set(colours)) == len(result.metrics)
        assert all(p["visible"] for p in chart["policies"])
    page.locator('input[data-policy="reactive"]').uncheck()
    for chart in page.evaluate(CHARTS_JS):
        shown = {p["policy"]: p["visible"] for p in chart["policies"]}
        assert shown.pop("reactive") is False and all(shown.values())
    page.locator('input[data-policy="reactive"]').check()
    assert all(p["visible"] for c in page.evaluate(CHARTS_JS) for p in c["policies"])
    page.screenshot(path=str(screenshot_dir(tmp_path) / "report.png"), full_page=True)
    assert not errors, errors
