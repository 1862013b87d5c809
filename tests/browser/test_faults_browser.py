"""Faults on a real running monitor (issue 13): a full disk and a deleted data dir.

``main.py --monitor`` runs as a subprocess (``run_monitor``) with its data dir on a
real 2 MB tmpfs (``tiny_fs``, skipped when mounting is not permitted) or on tmp_path.

Before: on a full disk the page showed only "sampler degraded", the live view froze
and the log got two tracebacks per tick; after ``rm -rf`` of the data dir health stayed
"ok" and every later sample was lost at restart.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from browser_support import get_json, run_monitor, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INTERVAL_S = 0.5


def reporting(base: str, word: str) -> dict[str, Any] | None:
    """The health payload if one of its reasons mentions ``word``, else None."""
    body = get_json(f"{base}/api/system/health")
    return body if any(word in reason for reason in body["reasons"]) else None


def test_full_disk_is_shown_on_the_page_and_survived(tmp_path: Path, tiny_fs, browser: Any) -> None:
    from playwright.sync_api import expect

    log = tmp_path / "server.log"
    with run_monitor(tmp_path, interval_s=INTERVAL_S) as base:
        tiny_fs.fill()
        body = wait_for(
            lambda: (h := get_json(f"{base}/api/system/health"))["store"]["ok"] is False and h,
            what="health to report the failing store",
        )
        error = body["store"]["error"]
        assert "full" in error and body["status"] == "degraded"
        assert any(error in reason for reason in body["reasons"])
        since = body["store"]["since"]

        page = browser.new_page()
        page.goto(f"{base}/")
        reasons = page.locator("#health-reasons")
        expect(reasons).to_be_visible(timeout=15_000)
        expect(reasons).to_contain_text(error)
        expect(page.locator("#health-store")).to_contain_text(f"not storing: {error}")
        expect(page.locator("#health-status")).to_have_text("sampler degraded")

        # The live view keeps moving, and says the new samples are not stored.
        first = get_json(f"{base}/api/metrics/realtime?since={since - 0.001}")["samples"]
        time.sleep(4 * INTERVAL_S)
        later = get_json(f"{base}/api/metrics/realtime?since={since - 0.001}")["samples"]
        assert len(later) >= len(first) + 2
        assert all(s.get("stored") is False for s in later)

        tiny_fs.free()
        wait_for(
            lambda: get_json(f"{base}/api/system/health")["store"]["ok"],
            what="health to be ok again",
        )
        expect(reasons).to_be_hidden(timeout=15_000)
        expect(page.locator("#health-status")).to_have_text("sampler ok")
        newest = get_json(f"{base}/api/metrics/realtime?since=-1")["samples"]
        assert newest and "stored" not in newest[-1]

    text = log.read_text(errors="replace")
    assert text.count("store write failed") == 1, text[-3000:]
    assert "resumed" in text
    assert "Traceback" not in text and "rollback" not in text, text[-3000:]


def test_deleted_data_dir_is_reported_and_new_samples_survive_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_monitor(tmp_path, interval_s=INTERVAL_S) as base:
        shutil.rmtree(data)
        # (Until the next tick notices, a request thread without a connection yet may
        # report "the store cannot be read"; the tick then says what happened.)
        body = wait_for(
            lambda: reporting(base, "deleted"), what="health to report the deleted database"
        )
        assert body["status"] == "degraded"
        reopened_at = body["store"]["last_fault"]["until"]
        assert (data / "foresight.db").exists()
        since = f"{base}/api/metrics/realtime?since={reopened_at - 0.001}"
        wait_for(lambda: len(get_json(since)["samples"]) >= 4, what="4 ticks after the reopen")
        before_stop = {s["timestamp"] for s in get_json(since)["samples"]}
    assert "fresh database" in (tmp_path / "server.log").read_text(errors="replace")

    with run_monitor(tmp_path, interval_s=INTERVAL_S) as base:  # a restart on the same dir
        # The restarted monitor loads recent history from the store into its live view.
        kept = get_json(f"{base}/api/metrics/realtime?since={reopened_at - 0.001}")["samples"]
        assert before_stop <= {s["timestamp"] for s in kept}
