"""The alerts API: filters, silences (validation, token rule), forecast crossings, health."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import create_app
from foresight.alerts.rules import Kind
from foresight.core.settings import Settings
from foresight.live import models as live_models
from foresight.live.services import build_services, stop


def drive(services, clock, values: dict[str, float], times: int = 1) -> None:
    live = services.extras["alerts"]
    for _ in range(times):
        now = clock.advance(31.0)
        live.engine.evaluate(live.signals(now, values, now))


def test_get_alerts_filters_by_state_severity_name_and_since(services, clock, client) -> None:
    drive(services, clock, {"cpu_percent": 99.0}, times=2)  # CpuCritical firing, CpuHigh pending
    drive(services, clock, {"cpu_percent": 10.0})  # CpuCritical resolves
    resolved_at = clock()
    drive(services, clock, {"cpu_percent": 99.0})  # pending again
    body = client.get("/api/alerts").get_json()
    states = [(a["name"], a["state"]) for a in body["alerts"]]
    assert states == [
        ("CpuHigh", "pending"),
        ("CpuCritical", "pending"),
        ("CpuCritical", "resolved"),
    ]
    assert body["pending"] == 2 and body["firing"] == 0 and body["rules"] > 10
    assert [a["state"] for a in client.get("/api/alerts?state=resolved").get_json()["alerts"]] == [
        "resolved"
    ]
    assert len(client.get("/api/alerts?state=active").get_json()["alerts"]) == 2
    crit = client.get("/api/alerts?severity=critical&name=CpuCritical").get_json()["alerts"]
    assert {a["severity"] for a in crit} == {"critical"} and len(crit) == 2
    assert len(client.get(f"/api/alerts?since={resolved_at + 1}").get_json()["alerts"]) == 2
    assert len(client.get("/api/alerts?limit=1").get_json()["alerts"]) == 1
    first = body["alerts"][-1]
    assert first["metric"] == "cpu_percent" and first["value"] == 10.0
    assert first["resolved_at"] == resolved_at and first["labels"]["alertname"] == "CpuCritical"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("state=open", "state must be pending, firing, resolved or active (got 'open')"),
        ("severity=loud", "severity must be info, warning or critical (got 'loud')"),
        ("limit=0", "limit"),
        ("since=soon", "since"),
    ],
)
def test_bad_alert_queries_are_400(client, query: str, message: str) -> None:
    response = client.get(f"/api/alerts?{query}")
    assert response.status_code == 400 and message in response.get_json()["error"]


def test_silences_are_validated_stored_and_listed(services, clock, client) -> None:
    good = {"matchers": [{"name": "alertname", "value": "CpuCritical"}], "ends_at": clock() + 60}
    for body, message in (
        ({"ends_at": clock() + 60}, "matchers is required"),
        ({**good, "matchers": []}, "at least one matcher"),
        ({**good, "ends_at": clock() - 1}, "ends_at must be after now"),
        ({**good, "ends_at": "tomorrow"}, "ends_at must be a number"),
        ({**good, "matchers": [{"name": "a", "value": "(", "isRegex": True}]}, "bad regex"),
        ({**good, "colour": "red"}, "unknown field"),
    ):
        response = client.post("/api/silences", json=body)
        assert response.status_code == 400, body
        assert message in response.get_json()["error"], response.get_json()
    assert client.get("/api/silences").get_json() == {"silences": []}  # nothing half-written
    created = client.post("/api/silences", json={**good, "comment": "deploy"})
    assert created.status_code == 201
    silence = created.get_json()
    assert silence["state"] == "active" and silence["matchers"][0]["isEqual"] is True
    assert client.get("/api/silences").get_json()["silences"] == [silence]
    drive(services, clock, {"cpu_percent": 99.0}, times=1)
    (alert,) = client.get("/api/alerts?name=CpuCritical").get_json()["alerts"]
    assert alert["silenced"] is True
    clock.advance(120)
    assert client.get("/api/silences").get_json() == {"silences": []}  # expired


def test_posting_a_silence_needs_the_token_when_one_is_set(services) -> None:
    client = create_app({"TESTING": True, "TOKEN": "t" * 20}, services=services).test_client()
    body = {"matchers": [{"name": "alertname", "value": "X"}], "ends_at": services.clock() + 60}
    assert client.post("/api/silences", json=body).status_code == 401
    ok = client.post("/api/silences", json=body, headers={"Authorization": "Bearer " + "t" * 20})
    assert ok.status_code == 201


def test_alerts_switched_off_answer_503(tmp_path, clock) -> None:
    svc = build_services(Settings(data_dir=tmp_path / "d", live_alerts=False), now=clock())
    try:
        client = create_app({"TESTING": True}, services=svc).test_client()
        response = client.get("/api/alerts")
        assert response.status_code == 503 and "alerting" in response.get_json()["error"]
        assert client.get("/api/system/health").get_json()["alerts"] is None
    finally:
        stop(svc)


def test_health_shows_rules_and_notification_failures(tmp_path, clock) -> None:
    settings = Settings(data_dir=tmp_path / "d", alertmanager_url="http://127.0.0.1:9")
    svc = build_services(settings, now=clock())
    try:
        live = svc.extras["alerts"]
        live.engine.notifier.attempts, live.engine.notifier.backoff_s = 2, 0.01
        live.engine.evaluate(live.signals(clock(), {"memory_percent": 99.0}, clock()))
        live.engine.evaluate(live.signals(clock.advance(61), {"memory_percent": 99.0}, clock()))
        assert live.engine.notifier.flush()
        health = create_app({"TESTING": True}, services=svc).test_client()
        alerts = health.get("/api/system/health").get_json()["alerts"]
        assert alerts["firing"] == 1 and alerts["rules"]["error"] is None
        (target,) = alerts["notifications"]["targets"]
        assert target["kind"] == "alertmanager" and target["failed_attempts"] == 2
        assert "127.0.0.1:9" in target["last_error"] and target["dropped"] == 1
    finally:
        stop(svc)


def test_scaling_alerts_report_forecast_crossings(services, clock, client) -> None:
    """A CPU series climbing towards 100 %: its fitted forecast crosses the catalog's
    critical level within the hour, and the answer says when, how high, how likely."""
    rng = np.random.default_rng(7)
    times = np.arange(clock() - 8 * 3600.0, clock(), 30.0)
    cpu = 20 + 70 * (times - times[0]) / (times[-1] - times[0]) + rng.normal(0, 1.5, len(times))
    services.store.append_many(
        (float(t), {"cpu_percent": float(v)}) for t, v in zip(times, cpu, strict=True)
    )
    models = services.extras[live_models.EXTRAS_KEY]
    assert models.refit("cpu_percent", live_models.TIERS[0], clock()).status == "ok"
    body = client.get("/api/scaling/alerts?hours=1").get_json()
    assert body["hours"] == 1
    (crossing,) = [a for a in body["alerts"] if a["metric"] == "cpu_percent"]
    assert crossing["severity"] == "critical" and crossing["threshold"] == 90.0
    assert clock() < crossing["when"] <= clock() + 3600
    assert crossing["value"] >= 90.0 and 0.0 < crossing["probability"] <= 1.0
    assert client.get("/api/scaling/alerts?hours=0").status_code == 400


def test_the_watchdog_fires_when_the_sampler_stops(services, clock) -> None:
    live = services.extras["alerts"]
    from foresight.live.services import run_cycle

    run_cycle(services, clock())
    live.watchdog(clock.advance(5.0))
    assert not [r for r in live.engine.active() if r.rule == "SamplerStale"]
    live.watchdog(clock.advance(60.0))
    (stale,) = [r for r in live.engine.active() if r.rule == "SamplerStale"]
    assert stale.state == "firing" and stale.value >= 60.0
    # a watchdog run evaluates only the stale rules
    assert {r.kind for r in live.engine.rules.rules if r.name == stale.rule} == {Kind.STALE}


def test_alerts_cursor_answers_only_what_changed(services, clock, client) -> None:
    drive(services, clock, {"cpu_percent": 99.0}, times=2)  # CpuCritical firing, CpuHigh pending
    drive(services, clock, {"cpu_percent": 10.0})  # CpuCritical resolves, CpuHigh is forgotten
    first = client.get("/api/alerts").get_json()
    assert first["full"] is True and first["removed"] == []
    assert [(a["name"], a["state"]) for a in first["alerts"]] == [("CpuCritical", "resolved")]
    # nothing evaluated since: nothing comes back, and the cursor holds
    again = client.get(f"/api/alerts?cursor={first['cursor']}").get_json()
    assert again["alerts"] == [] and again["full"] is False and again["cursor"] == first["cursor"]
    drive(services, clock, {"cpu_percent": 99.0})  # new episodes: both pending
    drive(services, clock, {"memory_percent": 10.0, "cpu_percent": 99.0})
    changes = client.get(f"/api/alerts?cursor={first['cursor']}").get_json()
    names = sorted((a["name"], a["state"]) for a in changes["alerts"])
    assert names == [("CpuCritical", "firing"), ("CpuHigh", "pending")]  # not the resolved one
    assert changes["cursor"] != first["cursor"]
    drive(services, clock, {"cpu_percent": 10.0})  # CpuCritical resolves, CpuHigh forgotten
    last = client.get(f"/api/alerts?cursor={changes['cursor']}").get_json()
    pending_id = next(a["id"] for a in changes["alerts"] if a["name"] == "CpuHigh")
    assert last["removed"] == [pending_id]
    assert [(a["name"], a["state"]) for a in last["alerts"]] == [("CpuCritical", "resolved")]
    # the client's merge of the three answers equals a fresh whole list
    held: dict[int, dict] = {}
    for answer in (first, changes, last):
        held.update({a["id"]: a for a in answer["alerts"]})
        for gone in answer["removed"]:
            held.pop(gone, None)
    fresh = client.get("/api/alerts").get_json()["alerts"]
    assert sorted(held.values(), key=lambda a: a["id"]) == sorted(fresh, key=lambda a: a["id"])


@pytest.mark.parametrize("cursor", ["0000-0", "abc-99999"])
def test_an_alien_or_future_cursor_gets_the_whole_list(services, clock, client, cursor) -> None:
    drive(services, clock, {"cpu_percent": 99.0}, times=2)
    body = client.get(f"/api/alerts?cursor={cursor}").get_json()
    assert body["full"] is True and len(body["alerts"]) == 2


def test_a_malformed_cursor_is_400(client) -> None:
    response = client.get("/api/alerts?cursor=yesterday")
    assert response.status_code == 400 and "yesterday" in response.get_json()["error"]


def test_each_alert_says_what_its_value_is_in(services, clock, client) -> None:
    """An anomaly alert's value is a score, not the metric's ms (the table showed
    "0.87 ms" for a db_query_ms anomaly); a resolved row's text matches its value."""
    from foresight.alerts.rules import RuleBook
    from foresight.web.alerts_api import value_units

    drive(services, clock, {"cpu_percent": 99.0}, times=2)
    drive(services, clock, {"cpu_percent": 10.0})
    alerts = client.get("/api/alerts?name=CpuCritical").get_json()["alerts"]
    (resolved,) = [a for a in alerts if a["state"] == "resolved"]
    assert resolved["value_unit"] == "%" and resolved["value"] == 10.0
    assert resolved["annotations"]["summary"].startswith("CPU at 10 %")  # before: 99 %
    unit = value_units(RuleBook().rules)
    assert unit("MetricAnomaly", "db_query_ms") == ""
    assert unit("SamplerStale", "sampler") == "s"
    assert unit("SamplerMissedTicks", "sampler") == ""
    assert unit("LoadHigh", "load1@web-1") == metric_unit("load1")
    assert unit("NoSuchRule", "cpu_percent") is None


def metric_unit(name: str) -> str:
    from foresight.core.catalog import metric_info

    return metric_info(name).unit


def test_before_pages_the_history_by_id(services, clock, client) -> None:
    """`limit` alone reached only the newest 1,000: `before` gives the page after an id."""
    for _ in range(5):  # five CpuCritical episodes, each firing then resolved
        drive(services, clock, {"cpu_percent": 99.0}, times=2)
        drive(services, clock, {"cpu_percent": 10.0})
    everything = client.get("/api/alerts?state=resolved&limit=100").get_json()["alerts"]
    assert len(everything) >= 5
    pages, before = [], None
    for _ in range(len(everything) + 1):  # bounded: a `before` ignored would loop forever
        query = "/api/alerts?state=resolved&limit=2" + (
            "" if before is None else f"&before={before}"
        )
        page = client.get(query).get_json()["alerts"]
        if not page:
            break
        pages.append([a["id"] for a in page])
        before = page[-1]["id"]
    assert [i for p in pages for i in p] == [a["id"] for a in everything]
    assert all(len(p) == 2 for p in pages[:-1])
    # a new episode arriving at the top does not shift the older pages
    drive(services, clock, {"cpu_percent": 99.0}, times=2)
    drive(services, clock, {"cpu_percent": 10.0})
    second = client.get(f"/api/alerts?state=resolved&limit=2&before={pages[0][-1]}").get_json()
    assert [a["id"] for a in second["alerts"]] == pages[1]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("before=999999", "before must be the id of a stored alert (got 999999)"),
        ("before=0", "before"),
        ("before=1&cursor={cursor}", "give before or cursor, not both"),
    ],
)
def test_bad_before_is_400(services, clock, client, query: str, message: str) -> None:
    drive(services, clock, {"cpu_percent": 99.0}, times=2)
    cursor = client.get("/api/alerts").get_json()["cursor"]
    response = client.get("/api/alerts?" + query.replace("{cursor}", cursor))
    assert response.status_code == 400 and message in response.get_json()["error"], (
        response.get_json()
    )
