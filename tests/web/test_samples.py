"""POST /api/samples: pushed metrics, stored in one transaction or not at all."""

from __future__ import annotations

import json

from foresight.live.pushed import EXTRAS_KEY as PUSHED_KEY
from foresight.live.services import run_cycle
from foresight.web.samples_schemas import MAX_SAMPLES


def batch(clock, n: int, target: str = "web-1", metric: str = "requests_per_s") -> list[dict]:
    t0 = clock() - n
    return [
        {"timestamp": t0 + i, "target": target, "metric": metric, "value": float(i)}
        for i in range(n)
    ]


def test_a_batch_is_stored_under_its_target_and_listed(client, services, clock) -> None:
    samples = batch(clock, 50) + batch(clock, 5, target="", metric="queue_depth")
    response = client.post("/api/samples", json={"samples": samples})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body == {
        "received": 55,
        "stored": 55,
        "series": ["queue_depth", "requests_per_s@web-1"],
        "scoring": "queued",
    }
    scoring = services.extras[PUSHED_KEY]
    assert scoring.wait_idle(30.0)
    assert scoring.status()["points"] == 55 and scoring.status()["errors"] == 0
    scores = services.extras["live_models"].scores()
    assert scores["requests_per_s@web-1"]["timestamp"] == samples[49]["timestamp"]
    listed = client.get("/api/metrics?since=-100").get_json()
    assert listed["targets"]["requests_per_s"] == ["web-1"]
    assert "requests_per_s" not in listed["metrics"]  # this host's series only by default
    assert len(listed["metrics"]["queue_depth"]["points"]) == 5
    mine = client.get("/api/metrics?since=-100&target=web-1&metric=requests_per_s").get_json()
    series = mine["metrics"]["requests_per_s"]
    assert mine["target"] == "web-1" and series["unit"] == "/s"  # unit from the suffix
    assert [p[1] for p in series["points"]] == [float(i) for i in range(50)]
    # the same batch again: first write wins, nothing is stored twice
    again = client.post("/api/samples", json={"samples": samples}).get_json()
    assert again["stored"] == 0
    assert services.store.stats()["values"] == 55


def test_one_bad_sample_rejects_the_batch_naming_index_and_field(client, services, clock) -> None:
    samples = batch(clock, 20)
    samples[13]["value"] = "high"
    response = client.post("/api/samples", json={"samples": samples})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "sample 13" in error and "value" in error and "'high'" in error, error
    assert services.store.stats()["values"] == 0  # nothing half-stored
    samples[13] = {"timestamp": clock(), "metric": "bad name", "value": 1.0}
    error = client.post("/api/samples", json={"samples": samples}).get_json()["error"]
    assert "sample 13: metric" in error, error
    samples[13] = {"timestamp": clock() + 3600, "metric": "ok_name", "value": 1.0}
    error = client.post("/api/samples", json={"samples": samples}).get_json()["error"]
    assert "sample 13: timestamp" in error, error
    assert services.store.stats()["values"] == 0


def test_more_than_the_limit_is_a_400_saying_so(client, services, clock) -> None:
    response = client.post("/api/samples", json={"samples": batch(clock, MAX_SAMPLES + 1)})
    assert response.status_code == 400
    assert f"at most {MAX_SAMPLES} samples" in response.get_json()["error"]
    ok = client.post("/api/samples", json={"samples": batch(clock, MAX_SAMPLES)})
    assert ok.status_code == 200 and ok.get_json()["stored"] == MAX_SAMPLES


def test_seed_003_reading_is_taken_as_it_is(client, services, clock) -> None:
    reading = {"cpu_usage": 45.2, "memory_usage": 60.1, "network_latency": 20, "error_rate": 0.5}
    body = client.post("/api/samples", json=reading).get_json()
    assert body["stored"] == 4 and body["series"] == sorted(reading)
    stored = services.store.latest()
    assert {k: stored[k] for k in reading} == {k: (clock(), float(v)) for k, v in reading.items()}
    units = client.get("/api/metrics?metric=network_latency,error_rate").get_json()["metrics"]
    assert (units["network_latency"]["unit"], units["error_rate"]["unit"]) == ("ms", "%")


def test_mixed_or_empty_bodies_are_refused(client) -> None:
    assert "give samples" in client.post("/api/samples", json={}).get_json()["error"]
    mixed = {"samples": [], "cpu_usage": 1.0}
    assert "not both" in client.post("/api/samples", json=mixed).get_json()["error"]


def test_the_token_rule_applies(services, clock) -> None:
    from dashboard import create_app

    client = create_app({"TESTING": True, "TOKEN": "t" * 20}, services=services).test_client()
    body = {"samples": batch(clock, 3)}
    assert client.post("/api/samples", json=body).status_code == 401
    assert services.store.stats()["values"] == 0
    auth = {"Authorization": "Bearer " + "t" * 20}
    assert client.post("/api/samples", json=body, headers=auth).status_code == 200


def test_unknown_target_is_a_400_listing_the_known_ones(client, clock) -> None:
    client.post("/api/samples", json={"samples": batch(clock, 3)})
    error = client.get("/api/metrics?target=nope").get_json()["error"]
    assert "unknown target 'nope'" in error and "'web-1'" in error


def test_ten_thousand_samples_with_long_targets_fit_the_body_limit(client, clock) -> None:
    """A full batch of Prometheus-style targets is ~2 MB: over the API's usual 1 MiB."""
    target = 'instance="web-0001.eu-west-1.compute.internal:9100",job="node-exporter"'
    samples = batch(clock, MAX_SAMPLES, target=target, metric="node_load1")
    response = client.post("/api/samples", json={"samples": samples})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stored"] == MAX_SAMPLES
    assert len(json.dumps({"samples": samples})) > 1024 * 1024
    huge = {"samples": samples[:1], "pad": "x" * (8 * 1024 * 1024)}
    answer = client.post("/api/samples", json=huge)
    assert answer.status_code == 413 and "at most 8388608 bytes" in answer.get_json()["error"]


def test_closing_stops_scoring_before_the_store_closes(client, services, clock) -> None:
    """Shutdown with a full batch still being scored: the thread stops between two
    timestamps and is gone before the store closes (it once wrote to a closed store)."""
    from foresight.live.services import stop

    for metric in ("a_per_s", "b_per_s", "c_per_s"):  # three full batches queued
        response = client.post(
            "/api/samples", json={"samples": batch(clock, MAX_SAMPLES, metric=metric)}
        )
        assert response.get_json()["scoring"] == "queued"
    scoring = services.extras[PUSHED_KEY]
    stop(services)
    assert scoring._thread is not None and not scoring._thread.is_alive()
    assert scoring.status()["errors"] == 0


def test_a_targets_load_levels_follow_its_own_pushed_cpu_count(client, services, clock) -> None:
    """Issue 12: a pushed (or Prometheus) target's load is judged on its own CPUs; without
    a count it has no per-CPU levels, never this host's."""
    load = batch(clock, 3, target="big", metric="load1") + batch(
        clock, 3, target="odd", metric="load1"
    )
    count = [{"timestamp": clock() - 1, "target": "big", "metric": "cpu_count", "value": 16.0}]
    assert client.post("/api/samples", json={"samples": load + count}).status_code == 200
    services.extras[PUSHED_KEY].wait_idle(30.0)
    big = client.get("/api/metrics?since=-100&target=big&metric=load1").get_json()
    assert (
        big["metrics"]["load1"]["warning"] == 16.0 and big["metrics"]["load1"]["critical"] == 80.0
    )
    odd = client.get("/api/metrics?since=-100&target=odd&metric=load1").get_json()["metrics"]
    assert odd["load1"]["warning"] is None and odd["load1"]["critical"] is None
    assert "unknown" in odd["load1"]["description"]
    health = client.get("/api/system/health").get_json()["alerts"]
    assert health["targets_without_cpu_count"] == ["odd"]
    assert "no per-CPU threshold" in health["cpu_count_note"]


def test_a_pushed_targets_current_value_is_its_newest_point(client, services, clock) -> None:
    """Pushed samples go to the store, not the sampler's tick: a pushed target's tiles
    read "–" (unknown) however fresh its data; its newest point within 5 min is current."""
    run_cycle(services, clock.advance(1.0))  # a host tick: current values are its own
    samples = batch(clock, 30)  # the newest one second ago
    assert client.post("/api/samples", json={"samples": samples}).status_code == 200
    newest = samples[-1]
    history = client.get("/api/metrics?target=web-1&metric=requests_per_s").get_json()
    current = history["metrics"]["requests_per_s"]["current"]
    assert current["value"] == newest["value"] and current["timestamp"] == newest["timestamp"]
    live = client.get("/api/metrics/realtime?target=web-1").get_json()
    assert live["current"]["requests_per_s"]["value"] == newest["value"]
    assert "requests_per_s" not in client.get("/api/metrics/realtime").get_json()["current"]
    run_cycle(services, clock.advance(301.0))  # past Prometheus' lookback: no current value
    later = client.get("/api/metrics?target=web-1&metric=requests_per_s").get_json()
    assert later["metrics"]["requests_per_s"]["current"]["value"] is None
    assert (
        "requests_per_s"
        not in (client.get("/api/metrics/realtime?target=web-1").get_json()["current"])
    )
