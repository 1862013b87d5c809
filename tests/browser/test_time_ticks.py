"""Axis labels of ranges over 6 h name the day of every tick past the first tick's day.

Chart.js labels every tick before its auto-skip hides some, so a label that named the day
only where it changed from the tick before lost the date when the hidden tick was midnight's
(a range from Nov 30 to Dec 1 read "Nov 30, 6:00 PM | 6:00 AM"). Loads static/js/timefmt.js
into a blank page of headless chromium and calls ``foresightTime.tick`` directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

TIMEFMT = Path(__file__).resolve().parents[2] / "static" / "js" / "timefmt.js"


def _labels(browser: Any, hours: list[int], span_s: float) -> list[str]:
    page = browser.new_page()
    page.set_content("<!doctype html><title>ticks</title>")
    page.add_script_tag(content=TIMEFMT.read_text(encoding="utf-8"))
    return page.evaluate(
        """([hours, spanS]) => {
          const ticks = hours.map((h) => ({value: new Date(2026, 10, 30, h).getTime()}));
          return ticks.map((t, i) => foresightTime.tick(t.value, spanS, i, ticks));
        }""",
        [hours, span_s],
    )


def test_every_tick_of_a_later_day_names_its_day(browser: Any) -> None:
    # Nov 30 18:00, Dec 1 00:00, 06:00, 12:00 (local time): a one-day range.
    labels = _labels(browser, [18, 24, 30, 36], 86400.0)
    assert "Nov" in labels[0] and "30" in labels[0], labels
    # whichever of them the auto-skip keeps, each of Dec 1's says so
    assert all("Dec" in label and "1" in label for label in labels[1:]), labels


def test_ticks_of_the_first_day_show_only_the_time(browser: Any) -> None:
    labels = _labels(browser, [6, 12, 18], 86400.0)
    assert "Nov" in labels[0]
    assert not any("Nov" in label for label in labels[1:]), labels
