"""Fixtures of the web tests: a monitor whose answers carry every optional part."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.live import models as live_models
from foresight.live.services import run_cycle
from metrics_collector import Sample


@pytest.fixture
def busy(services, clock, client):
    """A monitor with samples, a fitted 1-hour model, an anomaly and scaling decisions."""
    rng = np.random.default_rng(3)
    times = np.arange(clock() - 8 * 3600.0, clock(), 30.0)
    cpu = 40 + 20 * np.sin(2 * np.pi * times / 7200.0) + rng.normal(0, 2, len(times))
    services.store.append_many(
        (float(t), {"cpu_percent": float(v)}) for t, v in zip(times, cpu, strict=True)
    )
    for _ in range(5):
        run_cycle(services, clock.advance(1.0))
    models = services.extras[live_models.EXTRAS_KEY]
    models.refit("cpu_percent", live_models.TIERS[0], clock())
    calm = 20.0 + 2.0 * np.random.default_rng(5).standard_normal(600)
    for value in [*calm, *[95.0] * 15]:  # a noisy calm stretch, then a jump: an episode
        models.stage(clock.advance(1.0), Sample(clock(), {"cpu_percent": float(value)}))
    scaling = services.extras["live_scaling"]
    for _ in range(40):
        scaling.stage(clock.advance(1.0), Sample(clock(), {"cpu_percent": 97.0}))
    client.post("/api/scaling/execute", json={"instances": 3})
    alerts = services.extras["alerts"]
    for cpu in (99.0, 99.0, 50.0, 99.0, 99.0):  # fire, resolve, fire again (+ CpuHigh pending)
        alerts.engine.evaluate(alerts.signals(clock.advance(31.0), {"cpu_percent": cpu}, clock()))
    silence = {"matchers": [{"name": "alertname", "value": "CpuHigh"}], "ends_at": clock() + 60}
    assert client.post("/api/silences", json=silence).status_code == 201
    # the answers below then carry every optional part: a forecast, anomalies, decisions
    assert models.state("cpu_percent", live_models.TIERS[0]).status == "ok"
    assert models.anomalies() and scaling.history(5)["decisions"]
    states = {a["state"] for a in alerts.engine.alerts(clock())}
    assert states == {"pending", "firing", "resolved"}, states
    return services
