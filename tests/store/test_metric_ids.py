"""Metric ids held in memory (the write path's and the one-series read path's map)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from foresight.store.metric_store import MetricStore

T0 = 1_700_000_000.0


class FailsAfterFirst(dict[str, float]):
    """A tick whose second value raises: the append's transaction is rolled back."""

    def __init__(self, first: str) -> None:
        super().__init__({first: 1.0})
        self.first = first

    def items(self) -> Iterator[tuple[str, float]]:  # type: ignore[override]
        yield self.first, 1.0
        raise RuntimeError("the sampler died mid-tick")


def test_an_id_given_in_a_rolled_back_append_is_not_kept(tmp_path: Path) -> None:
    """Before: the rolled-back id stayed in the map, the next new metric was given the
    same id by SQLite, and the two metrics' samples were read and written as one."""
    store = MetricStore(tmp_path / "m.db")
    try:
        store.append(T0, {"cpu_percent": 1.0})
        with pytest.raises(RuntimeError):
            store.append(T0 + 1, FailsAfterFirst("lost_metric"))
        store.append(T0 + 2, {"other_metric": 7.0})
        store.append(T0 + 3, {"lost_metric": 3.0})
        _, other = store.series("other_metric", T0, T0 + 4, 1.0)
        _, lost = store.series("lost_metric", T0, T0 + 4, 1.0)
        assert np.nansum(other) == 7.0 and np.count_nonzero(~np.isnan(other)) == 1
        assert np.nansum(lost) == 3.0 and np.count_nonzero(~np.isnan(lost)) == 1
    finally:
        store.close()


def test_a_metric_another_process_added_is_found(tmp_path: Path) -> None:
    """The in-memory map answers only for ids it holds; a metric written by another
    store object (another process) since is looked up in the file."""
    reader = MetricStore(tmp_path / "m.db")
    writer = MetricStore(tmp_path / "m.db")
    try:
        reader.append(T0, {"cpu_percent": 1.0})
        writer.append(T0 + 1, {"pushed_metric": 5.0})
        _, values = reader.series("pushed_metric", T0, T0 + 2, 1.0)
        assert np.nansum(values) == 5.0
        _, cpu = reader.series("cpu_percent", T0, T0 + 2, 1.0)
        assert np.nansum(cpu) == 1.0
    finally:
        reader.close()
        writer.close()


def test_one_metrics_newest_sample_equals_its_entry_in_latest(tmp_path: Path) -> None:
    # A model install anchors its forecast on one metric's newest sample: one read, the
    # same answer as the every-metric read it replaced (gaps and unknown names too).
    rng = np.random.default_rng(5)
    with MetricStore(tmp_path / "m.db") as store:
        assert store.newest("cpu_percent") is None
        for i in range(40):
            values = {"cpu_percent": float(rng.uniform(0, 100)), "load1": float(rng.uniform())}
            if i % 3:
                values["sometimes"] = float(i)
            store.append(T0 + i + float(rng.uniform(0, 0.5)), values)
        latest = store.latest()
        assert set(latest) == {"cpu_percent", "load1", "sometimes"}
        for metric in [*latest, "never_stored"]:
            assert store.newest(metric) == latest.get(metric)
