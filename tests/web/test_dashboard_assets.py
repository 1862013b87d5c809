"""What the dashboard's page relies on from the server: where data starts, the favicon."""

from __future__ import annotations


def test_metrics_history_says_where_data_starts(client, services, clock) -> None:
    services.store.append_many([(clock() - 600 + i, {"cpu_percent": 5.0}) for i in range(60)])
    body = client.get("/api/metrics?since=-3600&metric=cpu_percent").get_json()
    assert body["data_since"] == clock() - 600
    assert body["since"] < body["data_since"]


def test_favicon_is_served(client) -> None:
    with client.get("/favicon.ico") as response:  # closes the file it streams
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert b"<svg" in response.data
