"""The risk panel, as a user sees it: the real monitor with a trained model, in Chromium.

It says "alerts at onset, no lead time promised", and it shows the model's measured
PR-AUC (from its model card, beside guessing) in plain words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser_support import get_json, open_page, run_monitor, seed_cpu_history, wait_for

from foresight.risk import persist
from foresight.risk.model import LabelledFile, RiskModel
from foresight.risk.synth import COLUMNS, synth

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _model(directory: Path) -> dict:
    frame = synth(4, 1_800_000_000.0, seed=5)
    f = LabelledFile("synth", frame.values[:, :7], frame.incident, 60.0)
    model = RiskModel(1800, ("lr",)).fit([f], list(COLUMNS[:7]))
    card = persist.model_card(model, {"files": ["synth"]}, "2026-12-01T00:00:00Z")
    persist.save(model, directory, card)
    return card


def test_the_risk_panel_says_alerts_at_onset_and_shows_the_pr_auc(
    tmp_path: Path, browser: Any
) -> None:
    card = _model(tmp_path / "model")
    env = {"FORESIGHT_RISK_MODEL": str(tmp_path / "model")}
    with run_monitor(tmp_path, extra_env=env) as base:
        errors: list[str] = []
        page = open_page(browser, base, errors, height=1600)
        page.wait_for_function(
            "() => document.getElementById('risk-model').textContent.includes('PR-AUC')",
            timeout=30_000,
        )
        onset = page.inner_text("#risk-onset")
        assert "Alerts at onset, no lead time promised" in onset
        words = page.inner_text("#risk-model")
        pr = card["validation"]["pr_auc"]
        assert f"PR-AUC was {pr:.2f}" in words and "alerts at onset" in words.lower()
        # the host does not report seed 002's metrics: the panel says so plainly
        page.wait_for_function(
            "() => document.getElementById('risk-failure').textContent.length > 0",
            timeout=30_000,
        )
        assert "does not report the metrics" in page.inner_text("#risk-failure")
        assert not errors, errors
    assert json.loads((tmp_path / "model" / "model_card.json").read_text())["model"] == "lr"


def test_a_fresh_store_says_nothing_was_checked_not_low(tmp_path: Path, browser: Any) -> None:
    """Before any metric with a crash level has a one-hour forecast (a fresh store), the
    crash risk was computed over nothing: the panel says "not checked", never "Low"."""
    with run_monitor(tmp_path) as base:
        status = get_json(f"{base}/api/risk/status")
        crash = wait_for(
            lambda: get_json(f"{base}/api/risk/status")["crash_risk"],
            what="the first crash-risk figure",
        )
        assert crash["metrics_checked"] == [], (crash, status)  # 1-hour models still warming
        errors: list[str] = []
        page = open_page(browser, base, errors)
        page.wait_for_function(
            "() => document.getElementById('risk-factors').textContent.includes('checked')"
        )
        assert page.inner_text("#risk-level") == "not checked"
        assert "none checked yet" in page.inner_text("#risk-factors")
        assert page.inner_text("#risk-score") == "score –"
        assert not errors, errors


def test_a_crash_factor_gives_its_level_in_the_metric_unit(tmp_path: Path, browser: Any) -> None:
    """A forecast crossing CPU's crash level read "cpu_percent: 100 % chance of reaching
    90": a bare number, in a list whose levels are % for one metric and ms for the next."""
    seed_cpu_history(tmp_path / "data", hours=3.0, cpu_percent=96.0)
    with run_monitor(tmp_path) as base:
        crash = wait_for(
            lambda: (get_json(f"{base}/api/risk/status")["crash_risk"] or {}).get("factors"),
            timeout_s=90.0,
            what="a crash factor from the seeded 96 % CPU",
        )
        assert crash[0]["metric"] == "cpu_percent", crash
        errors: list[str] = []
        page = open_page(browser, base, errors)
        page.wait_for_function(
            "() => document.getElementById('risk-factors').textContent.includes('chance')",
            timeout=30_000,
        )
        factors = page.inner_text("#risk-factors")
        assert "cpu_percent:" in factors and "chance of reaching 90.0 %" in factors, factors
        assert not errors, errors
