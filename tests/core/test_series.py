"""Series keys: one metric of one target as one string; the catalog knows them."""

from __future__ import annotations

import pytest

from foresight.core.catalog import metric_info
from foresight.core.series import (
    canonical_target,
    check_metric_name,
    of_target,
    series_key,
    split_key,
    targets_by_metric,
)


def test_local_keys_are_bare_names_and_others_split_at_the_first_at() -> None:
    assert series_key("cpu_percent") == "cpu_percent"
    key = series_key("up", 'instance="a@b:9100",job="node"')
    assert key == 'up@instance="a@b:9100",job="node"'
    assert split_key(key) == ("up", 'instance="a@b:9100",job="node"')
    assert split_key("cpu_percent") == ("cpu_percent", "")


def test_canonical_target_is_sorted_escaped_and_drops_the_name() -> None:
    labels = {"job": "node", "__name__": "up", "instance": 'we"ird\\'}
    assert canonical_target(labels) == 'instance="we\\"ird\\\\",job="node"'
    assert canonical_target(labels, keep=["instance"]) == 'instance="we\\"ird\\\\"'
    assert canonical_target({"__name__": "x"}) == ""  # no labels: the local target


@pytest.mark.parametrize("bad", ["", "9lives", "a@b", "a b", "x" * 201, 3])
def test_metric_names_follow_prometheus_rules(bad) -> None:
    with pytest.raises(ValueError, match="metric name"):
        check_metric_name(bad)


def test_targets_by_metric_and_of_target() -> None:
    keys = ["cpu_percent", 'cpu_percent@instance="a"', 'up@instance="a"', "up@web-1"]
    assert targets_by_metric(keys) == {
        "cpu_percent": ["", 'instance="a"'],
        "up": ['instance="a"', "web-1"],
    }
    assert of_target(keys, 'instance="a"') == {
        "cpu_percent": 'cpu_percent@instance="a"',
        "up": 'up@instance="a"',
    }
    assert of_target(keys, "") == {"cpu_percent": "cpu_percent"}


def test_catalog_serves_series_keys_and_unit_suffixes() -> None:
    remote = metric_info('cpu_percent@instance="web-1"')
    assert (remote.unit, remote.critical) == ("%", metric_info("cpu_percent").critical)
    assert remote.name == 'cpu_percent@instance="web-1"'
    assert metric_info("http_requests_per_s@svc").unit == "/s"
    assert metric_info("queue_latency_ms").unit == "ms"
    assert metric_info("heap_bytes").unit == "B"
    assert metric_info("net_bytes_per_s").unit == "B/s"
    assert metric_info("error_rate").unit == "%"  # seed 003's pushed names
    assert metric_info("network_latency").unit == "ms"
    assert metric_info("up").unit == ""  # no suffix: unit-less
