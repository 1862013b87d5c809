"""MetricStore.data_since: where a store's data starts (the dashboard says so)."""

from __future__ import annotations

from pathlib import Path

from foresight.store.metric_store import MetricStore

T0 = 1_800_000_000.0  # a whole hour


def test_data_since_is_the_first_sample_then_the_oldest_rollup(tmp_path: Path) -> None:
    with MetricStore(tmp_path / "s.db", retention_days=1.0) as store:
        assert store.data_since() is None  # empty
        rows = [(T0 + 17.5 + i, {"cpu_percent": 1.0}) for i in range(3 * 3600)]
        rows += [(T0 + 3600 + i, {"memory_percent": 2.0}) for i in range(60)]
        store.append_many(rows)
        assert store.data_since() == T0 + 17.5  # the exact first raw sample
        assert store.data_since(["memory_percent"]) == T0 + 3600
        assert store.data_since(["no_such_metric"]) is None
        # Raw values before T0 + 2 h go; the minute rollups still hold the first hours.
        store.apply_retention(T0 + 86400 + 2 * 3600)
        assert store.query(["cpu_percent"], T0, T0 + 3600, limit=10)["cpu_percent"]
        assert store.data_since(["cpu_percent"]) == T0  # the first minute bucket's start
