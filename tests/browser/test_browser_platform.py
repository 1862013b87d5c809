"""The capacity panel in a real browser with a real platform behind the webhook.

The test starts a tiny platform (an HTTP server on a free loopback port with a quota
of one instance, ``tests/scaling/platform_support.py``) and the real monitor pointed at
it, scales to 3 from the page's own form, and waits for the panel to say that the
platform runs 1 of the 3 asked (drift), beside the demand signals and instance size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import get_json, open_page, run_monitor

from tests.scaling.platform_support import run_platform

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_panel_shows_drift_signals_and_size(tmp_path: Path, browser: Any) -> None:
    with run_platform(quota=1, answer="replicas") as platform:
        env = {
            "SCALING_INTERVAL": "2",
            "SCALING_BOOT_S": "4",
            "MAX_INSTANCES": "10",
            "SCALING_WEBHOOK_URL": platform.scale_url,
        }
        with run_monitor(tmp_path, extra_env=env) as server:
            assert get_json(f"{server}/api/scaling/status")["max_instances"] >= 3
            errors: list[str] = []
            page = open_page(browser, f"{server}/", errors)
            # Until the engine's first decision the signals have no values ("cpu – ·
            # memory –") and none drives: wait for that decision, not for the first text.
            page.wait_for_function(
                "() => document.getElementById('scaling-signals').textContent.includes('drives')",
                timeout=20_000,
            )
            signals = page.text_content("#scaling-signals") or ""
            assert "memory" in signals and "drives" in signals
            assert "standard (1 CPU" in (page.text_content("#scaling-size") or "")
            assert page.is_hidden("#scaling-platform") is False
            page.fill("#scaling-instances", "3")
            page.fill("#scaling-hold", "10")  # held: auto mode won't undo it meanwhile
            page.click("#scaling-apply")
            page.wait_for_function(
                "() => document.getElementById('scaling-platform').textContent"
                ".includes('runs 1 of 3 asked')",
                timeout=20_000,
            )
            text = page.text_content("#scaling-platform") or ""
            assert "drift +2" in text and "webhook answer" in text
            assert "drift" in (page.get_attribute("#scaling-platform", "class") or "")
            assert "platform runs 1 instance(s), 3 asked" in (
                page.text_content("#scaling-conditions") or ""
            )
            page.locator("#capacity-panel").screenshot(path=str(tmp_path / "platform.png"))
            assert errors == []
    assert 3 in [p["desired_instances"] for p in platform.posts] and platform.replicas == 1
