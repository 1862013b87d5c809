"""Live anomaly behaviour on the real monitor: quiet when idle, one episode for a stress test.

Drives ``main.py --monitor`` the way the other browser tests do (a real process on a free
loopback port, its own data dir, chromium for the page). The issue's targets are per
wall-clock hour at the default 1-s sampling; a CI test cannot watch for 30 minutes, so
this one samples every ``INTERVAL_S`` = 0.1 s: the detector counts *samples* (its
warm-up, its time scales) and so does the episode tracker (60 quiet samples close an
episode: 60 s at 1 s, 6 s here), so the idle phase below (1,500 samples) is what 25
minutes of 1-s samples would be. At ≤ 2 episodes per hour that allows at most 1 here.
Compressed time is the harder test, not the easier one: 0.1-s samples of byte rates,
probe latencies and CPU (5-point steps on 2 cores) are far noisier than 1-s ones.

Both halves need an idle host: on one whose CPU is already busy (other jobs starting
and stopping processes, the HTTP probe slowing down) the metrics really do move, and
burning 2 more cores cannot move a ``cpu_percent`` already near 100 %. So the test checks
the host first and skips, saying so, instead of judging the detector on conditions the
issue's targets do not describe.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.browser.browser_support import get_json, run_monitor

INTERVAL_S = 0.1
WARMUP_S = 120.0  # the slow scale scores from sample 600 (60 s at 0.1 s); start-up, slack
IDLE_S = 150.0  # 1,500 points ~ 25 min at 1-s sampling
MAX_IDLE_EPISODES = 1
STRESS_S = 45
DETECT_WITHIN_S = 30.0
BUSY_HOST_CPU_PERCENT = 60.0
IDLE_PHASE_MAX_CPU_PERCENT = 35.0  # the 0.1-s monitor itself uses a few percent
# another job's burst (a build, a clean-up deleting trees) is a real change, not idleness
IDLE_PHASE_MAX_BURST_PERCENT = 30.0

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    psutil.cpu_percent(None)  # the first call is meaningless
    busy = statistics.median(psutil.cpu_percent(0.5) for _ in range(6))
    if busy > BUSY_HOST_CPU_PERCENT:
        pytest.skip(f"host not idle: cpu_percent {busy:.0f} % before the monitor started")
    with run_monitor(tmp_path_factory.mktemp("anomaly_live"), interval_s=INTERVAL_S) as base:
        yield base


def test_idle_host_is_quiet_and_a_stress_test_is_one_episode(
    server: str, tmp_path: Path, request: pytest.FixtureRequest
):
    time.sleep(WARMUP_S)
    psutil.cpu_percent(None)
    readings = [psutil.cpu_percent(1.0) for _ in range(int(IDLE_S))]  # the whole host, 1-s
    during, burst = statistics.fmean(readings), max(readings)
    if during > IDLE_PHASE_MAX_CPU_PERCENT or burst > IDLE_PHASE_MAX_BURST_PERCENT:
        pytest.skip(
            f"host busy during the idle phase (cpu_percent {during:.0f} % on average, "
            f"{burst:.0f} % at most over one second, the monitor included): its metrics "
            "really moved, so it was not idle"
        )
    idle = get_json(f"{server}/api/anomalies?since=-{IDLE_S:g}")["episodes"]
    assert len(idle) <= MAX_IDLE_EPISODES, (
        f"{len(idle)} episodes while idle (cpu_percent {during:.1f} % on average, "
        f"{burst:.0f} % at most): {idle}"
    )
    # ... and not one episode that swallows the idle phase either.
    assert sum(e["duration_s"] for e in idle) <= 0.25 * IDLE_S, idle
    psutil.cpu_percent(None)
    busy = statistics.median(psutil.cpu_percent(0.5) for _ in range(6))
    if busy > BUSY_HOST_CPU_PERCENT:
        pytest.skip(
            f"host became busy: cpu_percent {busy:.0f} % before the stress test, so burning "
            f"2 cores cannot show; the idle phase passed ({len(idle)} episode(s))"
        )

    # Chromium starts only now, after the idle phase: a browser process starting up and
    # settling (its own threads, sockets and disk cache) is the host moving, not idleness.
    browser: Any = request.getfixturevalue("browser")
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_function("() => window.foresight && foresight.range", timeout=15_000)
    page.get_by_label("Seconds").fill(str(STRESS_S))
    page.get_by_label("Cores").fill("2")
    started = time.time()
    page.get_by_role("button", name="Start").click()
    found = None
    while time.time() - started < DETECT_WITHIN_S:
        episodes = get_json(f"{server}/api/anomalies?since={started - 1:.3f}")["episodes"]
        found = next((e for e in episodes if "cpu_percent" in e["metrics"]), None)
        if found:
            break
        time.sleep(0.5)
    assert found, f"no episode naming cpu_percent within {DETECT_WITHIN_S:g} s"
    assert found["start"] - started <= DETECT_WITHIN_S
    # The page lists it: start, duration, metrics, peak.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#episode-list li')]"
        ".some((li) => li.textContent.includes('cpu_percent'))",
        timeout=70_000,
    )
    text = page.locator("#episode-list li").first.text_content() or ""
    assert "cpu_percent" in text and "peak" in text
    page.screenshot(path=str(tmp_path / "episodes.png"), full_page=True)
    page.locator("#stress-cancel").click()
    page.wait_for_function(
        "() => document.querySelector('#stress-status').textContent.startsWith('Idle')",
        timeout=10_000,
    )
