"""The Prometheus kit: /metrics passes promtool, the shipped rules check and pass their
unit tests, and the rules and the Grafana dashboard only use series Foresight exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERIES = re.compile(r"\b(foresight_[a-z0-9_]+|instance:foresight_[a-z0-9_:]+)\b")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed: `apt-get install prometheus` (`make test` does it)")
    return found


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=DEPLOY / "prometheus",
        timeout=60,
    )


def exported_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def test_metrics_pass_promtool_with_every_result_exported(busy, client) -> None:
    body = client.get("/metrics").get_data(as_text=True)
    result = run("check", "metrics", stdin=body)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )
    names = exported_names(body)
    for name in (
        "process_resident_memory_bytes",
        "python_info",
        "foresight_build_info",
        "foresight_forecast",
        "foresight_anomaly_score",
        "foresight_alerts",
        "foresight_scaling_instances",
        "foresight_scaling_recent_decisions",
        "foresight_scaling_cost_usd_total",
    ):
        assert name in names, name
    firing = [line for line in body.splitlines() if line.startswith("foresight_alerts{")]
    assert any(
        'alertname="CpuCritical"' in line and 'alertstate="firing"' in line for line in firing
    )
    assert 'band="upper_80"' in body and 'cpu="0"' in body


def test_promtool_rejects_what_the_old_exposition_did() -> None:
    """The check can fail: a gauge with a quantile label is what promtool reported."""
    bad = (
        "# HELP foresight_sampler_jitter_seconds x\n"
        "# TYPE foresight_sampler_jitter_seconds gauge\n"
        'foresight_sampler_jitter_seconds{quantile="0.5"} 0.001\n'
    )
    result = run("check", "metrics", stdin=bad)
    assert "quantile" in result.stdout + result.stderr


def test_rules_check_and_pass_their_unit_tests() -> None:
    checked = run("check", "rules", "foresight.rules.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run("test", "rules", "foresight.rules.test.yml")
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
    config = run("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_rules_and_dashboard_use_only_exported_series(busy, client, clock) -> None:
    from metrics_collector import Sample

    latest = busy.latest()  # as if the HTTP probe (off in these tests) had answered
    probed = {**latest.values, "api_response_ms": 12.0, "api_success": 1.0}
    busy.recent.append(Sample(clock.advance(1.0), probed))
    names = exported_names(client.get("/metrics").get_data(as_text=True))
    rules = (DEPLOY / "prometheus" / "foresight.rules.yml").read_text()
    recorded = set(re.findall(r"record:\s*(\S+)", rules))
    dashboard = (DEPLOY / "grafana" / "foresight.json").read_text()
    used = set(SERIES.findall(rules)) | set(SERIES.findall(dashboard))
    unknown = sorted(used - names - recorded - PLATFORM_SERIES)  # those: the next test
    assert not unknown, f"series used but not exported: {unknown}"


# Exported only when a webhook reads back the platform's count (issue 15).
PLATFORM_SERIES = {"foresight_actual_instances", "foresight_scaling_drift_instances"}


def test_drift_series_are_exported_with_a_platform_behind_the_webhook(tmp_path, clock) -> None:
    from dashboard import create_app
    from foresight.core.settings import Settings
    from foresight.live.services import build_services, stop
    from tests.scaling.platform_support import run_platform

    with run_platform(quota=1) as platform:
        settings = Settings(data_dir=tmp_path / "data", scaling_webhook_url=platform.scale_url)
        svc = build_services(settings, now=clock())
        svc.clock = clock
        try:
            live = svc.extras["live_scaling"]
            live.override(3, clock(), hold_s=60)
            assert live.platform.wait_idle(10.0)
            body = create_app({"TESTING": True}, services=svc).test_client().get("/metrics")
            text = body.get_data(as_text=True)
        finally:
            stop(svc)
    assert PLATFORM_SERIES <= exported_names(text)
    assert "foresight_scaling_drift_instances 2.0" in text
    result = run("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_dashboard_has_the_fields_grafana_requires() -> None:
    doc = json.loads((DEPLOY / "grafana" / "foresight.json").read_text())
    for key in ("title", "uid", "schemaVersion", "panels", "time", "templating"):
        assert key in doc, key
    assert isinstance(doc["schemaVersion"], int) and re.fullmatch(r"[\w-]{1,40}", doc["uid"])
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in doc["templating"]["list"]}
    for panel in doc["panels"]:
        assert panel["type"] and panel["title"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert 0 <= panel["gridPos"]["x"] and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert set(re.findall(r"\$(\w+)", target["expr"])) <= variables
