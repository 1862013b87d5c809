"""Episodes on the dashboard in headless chromium, read from the store after a restart.

Seeds an hour of cpu_percent history and one closed episode into a fresh data dir (what
a previous run would have left), starts the real monitor on it, and checks that the page
lists the episode (start, duration, metrics, peak, value vs expected) and that anomaly
marks go on the drawn line: in the 1-hour view (1-minute bucket means) a mark for a raw
value far above the line sits at the bucket's mean, not at the raw value.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import get_json, open_page, run_monitor, screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _seed(data_dir: Path, now: float) -> None:
    from foresight.store.episodes import Episode, EpisodeMetric, save_episode
    from foresight.store.metric_store import MetricStore

    times = np.arange(now - 3600.0, now - 5.0, 5.0)
    rng = np.random.default_rng(0)
    cpu = 30 + rng.normal(0, 2, len(times))
    data_dir.mkdir(parents=True, exist_ok=True)
    with MetricStore(data_dir / "foresight.db") as store:
        store.append_many((float(t), {"cpu_percent": float(v)}) for t, v in zip(times, cpu))
        start = now - 1800.0
        save_episode(
            store,
            Episode(
                None,
                start,
                start + 120.0,
                0.93,
                False,  # left open by the run that stopped: closed on start
                (
                    EpisodeMetric("cpu_percent", start, start + 5.0, 0.93, 99.5, 31.0),
                    EpisodeMetric("load1", start + 10.0, start + 20.0, 0.71, 2.4, 0.3),
                ),
            ),
        )


def test_episode_list_and_marks_on_the_drawn_line(tmp_path: Path, browser: Any) -> None:
    now = time.time()
    _seed(tmp_path / "data", now)
    with run_monitor(tmp_path) as base:
        (episode,) = get_json(f"{base}/api/anomalies?since=-86400")["episodes"]
        assert episode["closed"] and episode["metrics"] == ["cpu_percent", "load1"]
        errors: list[str] = []
        page = open_page(browser, base, errors, height=1600)
        page.wait_for_function(
            "() => document.querySelectorAll('#episode-list li').length === 1",
            timeout=30_000,
        )
        text = page.inner_text("#episode-list li")
        assert "2 min" in text and "cpu_percent, load1" in text and "peak 0.93" in text
        assert "expected" in text and page.locator("#episode-none").is_hidden()
        page.screenshot(path=str(screenshot_dir(tmp_path) / "episodes.png"), full_page=True)

        page.get_by_role("radio", name="1 hour").click()
        page.wait_for_function(
            "() => foresight.range.key === '1h' && "
            "foresight.charts.cpu_percent.data.datasets[0].data.length > 10",
            timeout=15_000,
        )
        mark = page.evaluate(
            """(t) => {
              const c = foresight.charts.cpu_percent;
              const pts = c.data.datasets.find((d) => d.foresightRole === "series").data;
              const m = foresight.drawnPoint(c, {timestamp: t, value: 1e6, score: 0.9});
              const bucket = pts.filter((p) => p.x <= t * 1000).at(-1);
              return {mark: m, bucket: bucket};
            }""",
            now - 1200.0,
        )
        assert mark["mark"]["y"] == mark["bucket"]["y"] < 100  # on the line, not at 1e6
        assert mark["mark"]["x"] == mark["bucket"]["x"]
        assert not errors, errors
