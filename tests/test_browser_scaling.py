"""The capacity panel in a real browser: the stress-test button visibly drives a scale-up.

Runs the real monitor with fast scaling (decisions every 2 s, 4 s boot lag), opens the
page in Debian's headless chromium, starts a stress test on every core from the page's
own form, and waits for the panel to show a scale-up decision and more ready instances.
Skips when /usr/bin/chromium or the playwright package is missing.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.browser, pytest.mark.slow]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


def _get_json(url: str) -> dict:
    with _OPENER.open(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture
def server(tmp_path: Path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium to run browser tests")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "FORESIGHT_TOKEN"}
    env.update(SCALING_INTERVAL="2", SCALING_BOOT_S="4", MAX_INSTANCES="10")
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "--monitor", "--port", str(port),
             "--data-dir", str(tmp_path / "data"), "--interval", "0.5"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"monitor exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                _get_json(f"{base}/api/scaling/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the monitor did not answer within 20 s")
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_stress_button_drives_a_visible_scale_up(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    cores = int(_get_json(f"{server}/api/scaling/status")["host_cores"])
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server}/")
            page.wait_for_function(
                "() => document.getElementById('scaling-badge').textContent.includes('auto')",
                timeout=15_000)
            # Start from one instance, then let the stress test push demand up.
            page.fill("#scaling-instances", "1")
            page.click("#scaling-apply")
            page.wait_for_function(
                "() => document.getElementById('scaling-ready').textContent === '1'",
                timeout=10_000)
            page.fill("#stress-seconds", "20")
            page.fill("#stress-cores", str(cores))
            page.click("#stress-start")
            # A scale-up decision appears in the log, and instances boot then become ready.
            page.wait_for_function(
                """() => [...document.querySelectorAll('#scaling-decisions tr')]
                      .some((tr) => tr.textContent.includes('scale up'))""", timeout=20_000)
            page.wait_for_function(
                "() => Number(document.getElementById('scaling-ready').textContent) >= 2",
                timeout=20_000)
            points = page.evaluate(
                "() => Chart.getChart(document.getElementById('capacity-chart'))"
                ".data.datasets[1].data.length")
            assert points > 0
            page.locator("#capacity-panel").screenshot(path=str(tmp_path / "capacity.png"))
            page.click("#stress-cancel")
        finally:
            browser.close()
    assert errors == []
