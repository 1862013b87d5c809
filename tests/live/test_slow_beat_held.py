"""The collector's slow beat (memory split and per-device values every 5 s) is held in
between, as the HTTP probe is: a rule on a per-device series stays pending and fires,
instead of resolving at every tick that did not read it."""

from __future__ import annotations

from pathlib import Path

from dashboard import create_app
from foresight.core.settings import Settings
from foresight.live.alerting import EXTRAS_KEY as ALERTS_KEY
from foresight.live.services import build_services, run_cycle, stop
from metrics_collector import SLOW_EVERY_S, MetricsCollector

T0 = 1_800_000_000.0
RULES = """
rules:
  - name: RootFilling
    kind: threshold
    metric: "fs_used_percent:*"
    level: 0.001
    clear: 0.0005
    for: 8s
    severity: warning
"""


def test_slow_values_are_held_with_the_time_they_were_read(tmp_path: Path) -> None:
    collector = MetricsCollector(tmp_path, probe_url=None)
    first = collector.collect(T0)  # the first tick is a slow beat
    later = [collector.collect(T0 + dt) for dt in (1.0, 2.0, 4.0)]
    beat = collector.collect(T0 + SLOW_EVERY_S)
    slow = {"memory_used_bytes", "fs_used_percent:/"}
    assert slow <= set(first.values) and not first.held_at
    for sample in later:
        assert not slow & set(sample.values)  # not measured, so not stored
        assert {k: sample.held[k] for k in slow} == {k: first.values[k] for k in slow}
        assert {sample.held_at[k] for k in slow} == {T0}
        assert slow <= set(sample.current())
    assert slow <= set(beat.values) and not slow & set(beat.held)


def test_a_rule_on_a_per_device_series_fires_after_its_for(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    settings = Settings(data_dir=tmp_path / "data", probe_url="", alert_rules_path=rules)
    services = build_services(settings, now=T0)
    try:
        services.collector.prime()
        live = services.extras[ALERTS_KEY]
        states = []
        for i in range(12):
            run_cycle(services, T0 + i)
            states.append({r.state for r in live.engine.active() if r.rule == "RootFilling"})
        stored = services.store.raw_rows(T0 - 1, T0 + 12)
        client = create_app({"TESTING": True}, services=services).test_client()
        metrics = client.get("/api/metrics?limit=5").get_json()["metrics"]
    finally:
        stop(services)
    assert all(s == {"pending"} for s in states[:8]), states  # never resolved in between
    assert states[-1] == {"firing"}, states
    # stored on the beat only (T0, T0 + 5, T0 + 10), and its `current` says when it was read
    times = sorted({t for t, values in stored if "fs_used_percent:/" in values})
    assert times == [T0, T0 + 5, T0 + 10], times
    assert metrics["fs_used_percent:/"]["current"]["timestamp"] == T0 + 10
    assert metrics["cpu_percent"]["current"]["timestamp"] == T0 + 11
