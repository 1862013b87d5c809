"""What one open dashboard tab costs the monitor: requests and bytes per minute.

    .venv/bin/python bench/bench_tab.py                  # 60 s visible, 30 s hidden
    .venv/bin/python bench/bench_tab.py --seconds 120
    .venv/bin/python bench/bench_tab.py --root /tmp/main-checkout   # another checkout
    .venv/bin/python bench/bench_tab.py --seed-alerts 100   # a store with an alert history

Starts the monitor (``main.py --monitor --interval 1`` of ``--root``, default this
checkout) on a free loopback port with a temp data dir, opens ``/`` in Debian's headless
chromium (Playwright, never ``playwright install``), waits ``--warmup`` seconds for the
first loads, then counts every request the page makes and the bytes it receives (the
Chrome DevTools Protocol's ``encodedDataLength``: body and headers as sent) for
``--seconds``. Then the tab is hidden (simulated: headless chromium never hides a tab, so
``document.visibilityState`` is made to say "hidden" and ``visibilitychange`` fires) and
the same is counted for ``--hidden-seconds``. Prints per-minute figures per path and writes
bench/out/tab.json. Run it on this checkout and on ``main`` for a before/after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import PYTHON, ROOT, free_port, stop_process, wait_http, write_json

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
# Headless chromium keeps every tab "visible" (a tab brought to the front or a minimised
# window does not change it), so hiding is simulated the way the page sees it: the
# Page Visibility API reports hidden and a visibilitychange event fires.
HIDE_JS = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
  Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


class Meter:
    """Requests and received bytes of one page, from its DevTools Network events."""

    def __init__(self, cdp: Any) -> None:
        self.counting = False
        self.requests: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self._paths: dict[str, str] = {}
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, ev: dict[str, Any]) -> None:
        path = urlsplit(ev["request"]["url"]).path
        self._paths[ev["requestId"]] = path
        if self.counting:
            self.requests[path] += 1

    def _finished(self, ev: dict[str, Any]) -> None:
        path = self._paths.pop(ev["requestId"], "?")
        if self.counting:
            self.bytes[path] += int(ev.get("encodedDataLength", 0))

    def window(self, page: Any, seconds: float) -> dict[str, Any]:
        """Count for ``seconds`` (the page keeps running); return per-minute figures."""
        self.requests.clear()
        self.bytes.clear()
        self.counting = True
        page.wait_for_timeout(seconds * 1000)
        self.counting = False
        per_min = 60.0 / seconds
        paths = sorted(set(self.requests) | set(self.bytes), key=lambda p: -self.requests[p])
        return {
            "seconds": seconds,
            "requests_per_min": round(sum(self.requests.values()) * per_min, 1),
            "kb_per_min": round(sum(self.bytes.values()) * per_min / 1000, 1),
            "by_path": {
                p: {
                    "requests_per_min": round(self.requests[p] * per_min, 1),
                    "kb_per_min": round(self.bytes[p] * per_min / 1000, 1),
                }
                for p in paths
            },
        }


def seed_alerts(data_dir: Path, count: int, now: float) -> None:
    """``count`` resolved alert episodes over the last day (what a week-old monitor holds)."""
    from foresight.store.alert_log import AlertLog, AlertRecord
    from foresight.store.metric_store import MetricStore

    data_dir.mkdir(parents=True, exist_ok=True)
    with MetricStore(data_dir / "foresight.db") as store:
        records = []
        for i in range(count):
            start = now - 86_400 + i * 600
            summary = f"CPU {90 + i % 10} % for 5 minutes (critical from 90 %)"
            records.append(
                AlertRecord(
                    "CpuCritical",
                    "cpu_percent",
                    "critical",
                    "resolved",
                    95.0,
                    90.0,
                    start,
                    start + 300,
                    start + 60,
                    start + 300,
                    annotations={"summary": summary},
                )
            )
        AlertLog(store).save(records)


def run(
    root: Path, seconds: float, hidden_s: float, warmup_s: float, alerts: int = 0
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-tab-") as tmp:
        if alerts:
            seed_alerts(Path(tmp) / "data", alerts, time.time())
        env = {k: v for k, v in os.environ.items() if k != "FORESIGHT_TOKEN"}
        cmd = [PYTHON, str(root / "main.py"), "--monitor", "--port", str(port)]
        cmd += ["--data-dir", str(Path(tmp) / "data"), "--interval", "1"]
        with open(Path(tmp) / "server.log", "wb") as log:
            proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/api/system/health", proc=proc)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                meter = Meter(context.new_cdp_session(page))
                page.goto(f"{base}/")
                page.wait_for_timeout(warmup_s * 1000)
                visible = meter.window(page, seconds)
                page.evaluate(HIDE_JS)
                page.wait_for_timeout(1000)
                state = page.evaluate("document.visibilityState")
                hidden = meter.window(page, hidden_s)
                hidden["visibility_state"] = state
                browser.close()
        finally:
            stop_process(proc)
    return {
        "root": str(root),
        "interval_s": 1.0,
        "seeded_alerts": alerts,
        "visible": visible,
        "hidden": hidden,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose main.py runs")
    parser.add_argument("--seconds", type=float, default=60.0, help="visible window (s)")
    parser.add_argument("--hidden-seconds", type=float, default=30.0, help="hidden window (s)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before counting")
    parser.add_argument(
        "--seed-alerts", type=int, default=0, help="resolved alerts in the store at start"
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: apt-get install chromium", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    result = run(
        args.root.resolve(), args.seconds, args.hidden_seconds, args.warmup, args.seed_alerts
    )
    for name in ("visible", "hidden"):
        r = result[name]
        extra = f" (document.visibilityState={r['visibility_state']})" if name == "hidden" else ""
        print(
            f"{name:>7} tab: {r['requests_per_min']:7.1f} requests/min, "
            f"{r['kb_per_min']:8.1f} KB/min{extra}"
        )
        for path, f in r["by_path"].items():
            rate = f"{f['requests_per_min']:6.1f} req/min {f['kb_per_min']:8.1f} KB/min"
            print(f"    {path:<32} {rate}")
    print(f"wrote {write_json('tab', result)} in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
