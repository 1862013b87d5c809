"""GET /api/models, POST /api/train and minutes=N on one metric's forecast (issue 8)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from dashboard import create_app
from foresight.live.models import EXTRAS_KEY, SHORT_TIER, TIERS
from tests.live.test_live_models import seed_history


def test_models_lists_every_metric_and_tier_with_candidates(services, client, clock):
    live = services.extras[EXTRAS_KEY]
    seed_history(services.store, clock(), hours=8)
    live.refit("cpu_percent", TIERS[0], clock())
    rows = client.get("/api/models").get_json()["models"]
    assert {(r["metric"], r["tier"]) for r in rows} >= {("cpu_percent", "1h"), ("load1", "5m")}
    cpu = next(r for r in rows if (r["metric"], r["tier"]) == ("cpu_percent", "1h"))
    assert cpu["status"] == "ok" and cpu["model"] in cpu["candidates"]
    assert cpu["mase"] <= cpu["naive_mase"] and cpu["fitted_at"] == clock()
    assert cpu["history_steps"] > 400 and cpu["history_s"] == cpu["history_steps"] * 60.0
    waiting = next(r for r in rows if (r["metric"], r["tier"]) == ("cpu_percent", "7d"))
    assert waiting["status"] == "warming_up" and waiting["model"] is None


def test_train_marks_models_due_and_the_next_run_refits(services, client, clock):
    live = services.extras[EXTRAS_KEY]
    live.metrics = lambda: ["cpu_percent"]
    seed_history(services.store, clock(), hours=8)
    live.refit("cpu_percent", TIERS[0], clock())
    clock.advance(30)
    response = client.post("/api/train", json={"metric": "cpu_percent"})
    assert response.status_code == 202 and response.get_json()["queued"] == len(live.tiers)
    live.budget_s = 600.0
    assert live.run(clock()) == len(live.tiers)  # due now, not after refit_every_s
    live.wait_idle()  # the fit worker answers on its own thread
    assert live.state("cpu_percent", TIERS[0]).fitted_at == clock()
    assert client.post("/api/train", json={}).status_code == 202  # {}: every metric


@pytest.mark.parametrize(
    ("kwargs", "status", "needle"),
    [
        ({"json": {"metric": "nope"}}, 400, "unknown metric"),
        ({"json": [1]}, 400, "JSON object"),
        (
            {"data": "metric=cpu_percent", "content_type": "application/x-www-form-urlencoded"},
            415,
            "application/json",
        ),
        ({"json": {}, "headers": {"Origin": "http://evil.example"}}, 403, "another origin"),
    ],
)
def test_train_rejects_bad_bodies_with_one_error(client, kwargs, status, needle):
    response = client.post("/api/train", **kwargs)
    assert response.status_code == status
    assert list(response.get_json()) == ["error"] and needle in response.get_json()["error"]


def test_train_follows_the_token_rule(services):
    client = create_app({"TESTING": True, "TOKEN": "s3cret"}, services=services).test_client()
    assert client.post("/api/train", json={}).status_code == 401
    ok = client.post("/api/train", json={}, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 202


def test_metric_forecast_takes_minutes(services, client, clock):
    live = services.extras[EXTRAS_KEY]
    seed_history(services.store, clock(), hours=1, step_s=5.0)
    live.refit("cpu_percent", SHORT_TIER, clock())
    body = client.get("/api/metrics/cpu_percent/forecast?minutes=2").get_json()
    assert body["tier"] == "5m" and len(body["forecast"]["mean"]) == 12
    assert body["model"] == body["accuracy"]["model"]


def test_new_routes_are_documented(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/models"] and "post" in paths["/api/train"]


@pytest.mark.parametrize("path", ["fs_used_percent:/", "fs_used_percent:/boot/efi"])
def test_metric_forecast_serves_a_mount_metric_whose_name_has_slashes(
    services, client, clock, path
):
    """A filesystem metric is named after its mount (``fs_used_percent:/``): its slashes,
    escaped or not, reach the route as part of the name, not as more path."""
    services.store.append_many(
        (clock() - ago, {path: 50.0 + (ago % 60) / 6}) for ago in range(3600, 0, -5)
    )
    for url in (f"/api/metrics/{path}/forecast", f"/api/metrics/{quote(path, safe='')}/forecast"):
        response = client.get(f"{url}?minutes=2")
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["metric"] == path
    missing = client.get("/api/metrics/fs_used_percent:/nope/forecast?minutes=2")
    assert missing.status_code == 400 and "unknown metric" in missing.get_json()["error"]
