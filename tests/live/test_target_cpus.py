"""Per-target CPU counts for the per-CPU load thresholds (issue 12: a 16-CPU server read
from Prometheus is judged on its own 16 CPUs, never this host's count)."""

from __future__ import annotations

import math

import pytest

from foresight.alerts.conditions import Signals, observe
from foresight.alerts.rules import RuleBook
from foresight.core.catalog import CPUS, metric_info
from foresight.core.series import canonical_target, target_labels
from foresight.live.alerting import EXTRAS_KEY as ALERTS_KEY
from foresight.live.target_cpus import TargetCpus

NODE = 'instance="db-1:9100",job="node"'
T0 = 1_800_000_000.0


def load_rules():
    return {r.name: r for r in RuleBook().rules if r.metric == "load1"}


@pytest.mark.parametrize(
    "labels",
    [{"instance": "a:9100", "job": "node"}, {"x": 'q"u\\o\nte', "y": "a\\nb"}, {"z": ""}],
)
def test_target_labels_reads_back_what_canonical_target_wrote(labels):
    assert target_labels(canonical_target(labels)) == labels


@pytest.mark.parametrize("plain", ["web-1", 'a="x"b', "a=x", ""])
def test_a_plain_target_has_no_labels(plain):
    assert target_labels(plain) is None


def test_counts_come_from_each_targets_own_series(store):
    store.append(T0 - 60, {'cpu_count@instance="db-1:9100"': 8.0, "cpu_count@web-1": 2.0})
    store.append(
        T0,
        {
            'cpu_count@instance="db-1:9100"': 16.0,  # the newest value counts
            "cpu_count@web-1": 4.0,
            "cpu_count@broken": 0.0,  # not a CPU count
            'cpu_count@instance="x",job="a"': 2.0,
            'cpu_count@instance="x",job="b"': 4.0,
        },
    )
    cpus = TargetCpus(store, host_cpus=2)
    cpus.refresh(T0)
    assert cpus.cores("") == 2  # the local target: this host's
    assert cpus.cores("web-1") == 4  # a pushed target: exact name
    assert cpus.cores('instance="db-1:9100"') == 16
    # count(...) by (instance) serves every series of that instance, whatever else it has
    assert cpus.cores(NODE) == 16
    assert cpus.cores('instance="db-2:9100",job="node"') is None  # no count: unknown
    assert cpus.cores("broken") is None and cpus.cores("web-2") is None
    # two equally specific counts that disagree: unknown rather than a guess
    assert cpus.cores('instance="x",job="a",pod="p"') == 2
    assert cpus.cores('instance="x"') is None
    keys = [f"load1@{NODE}", 'load1@instance="db-2:9100",job="node"', "load1", "cpu@web-2"]
    assert cpus.unknown(keys) == ['instance="db-2:9100",job="node"']
    # a sample's own counts count at once, before the next read of the store
    cpus.note({'cpu_count@instance="db-2:9100"': 32.0, "load1": 1.0})
    assert cpus.cores('instance="db-2:9100",job="node"') == 32


def test_the_count_read_seeks_each_series_never_scans_the_samples(store):
    # The read runs every minute on a store of days of 1-s samples: the metric table
    # (a few rows) drives it, each newest sample is one primary-key seek.
    from foresight.live.target_cpus import LATEST_COUNTS_SQL, PREFIX

    store.append(T0, {"cpu_count@web-1": 4.0, "cpu_percent": 5.0})
    plan = store.read("EXPLAIN QUERY PLAN " + LATEST_COUNTS_SQL, (len(PREFIX), PREFIX))
    steps = [row[-1] for row in plan]
    assert not [s for s in steps if s.startswith("SCAN") and "m" != s.split()[1]], steps
    assert store.read(LATEST_COUNTS_SQL, (len(PREFIX), PREFIX)) == [("cpu_count@web-1", 4.0)]


@pytest.mark.parametrize(("cpus", "fires"), [(16, set()), (4, {"LoadHigh", "LoadCareful"})])
def test_load_rules_use_the_targets_own_cpu_count(cpus, fires):
    key = f"load1@{NODE}"
    signals = Signals(
        now=T0, values={key: 6.0}, sample_at=T0, cores=1, target_cores={NODE: cpus}.get
    )
    breached = {
        name
        for name, rule in load_rules().items()
        for ob in observe(rule, signals)
        if ob.metric == key and ob.breach
    }
    # 6.0 on 16 CPUs is 0.375 per CPU (fine); on 4 CPUs 1.5 (warning, not critical 5.0);
    # this host's 1 CPU would have made it critical
    assert breached == fires
    high = next(ob for ob in observe(load_rules()["LoadHigh"], signals) if ob.metric == key)
    assert high.threshold == 1.0 * cpus


def test_an_unknown_cpu_count_gives_no_load_threshold_not_the_hosts():
    key = f"load1@{NODE}"
    signals = Signals(now=T0, values={key: 50.0, "load1": 50.0}, sample_at=T0, cores=2)
    for rule in load_rules().values():
        by_metric = {ob.metric: ob for ob in observe(rule, signals)}
        assert by_metric[key].threshold is None and not by_metric[key].breach
        assert by_metric["load1"].breach  # the local host's load, on its own 2 CPUs
    info = metric_info(key)
    assert info.warning is None and info.critical is None
    assert "unknown" in info.description
    assert metric_info(key, 16).critical == 80.0 and "16 CPUs" in metric_info(key, 16).description
    assert metric_info("load1").critical == 5.0 * CPUS  # the local host: as before
    assert metric_info("load1", 64).critical == 5.0 * CPUS  # ... whatever is passed


def test_health_names_targets_without_a_cpu_count_and_alerts_use_pushed_counts(services, clock):
    alerts = services.extras[ALERTS_KEY]
    now = clock()
    services.store.append(now, {f"load1@{NODE}": 6.0, "load1@web-1": 6.0})
    status = alerts.status()
    assert status["targets_without_cpu_count"] == [NODE, "web-1"]
    assert status["targets_without_cpu_count_total"] == 2
    assert "no per-CPU threshold" in status["cpu_count_note"]
    # web-1 pushes its count: its load is judged on its 4 CPUs from the next evaluation
    alerts.evaluate_pushed([(now + 1, {"cpu_count@web-1": 4.0, "load1@web-1": 6.0})])
    assert alerts.status()["targets_without_cpu_count"] == [NODE]
    signals = alerts.signals(now + 2, {"load1@web-1": 6.0}, now + 2)
    assert signals.cores_for("load1@web-1") == 4 and signals.cores_for(f"load1@{NODE}") is None
    assert signals.cores_for("load1") == alerts.cores and not math.isnan(alerts.cores)


def test_the_page_context_gives_each_targets_cpu_count(services, client, clock):
    """The dashboard's config has every target's CPU count ("": this host; None: unknown),
    so the load chart of a target can show its own per-CPU levels (before: none)."""
    import json
    import re

    from dashboard import page_context

    now = clock()
    services.store.append(now - 5, {f"cpu_count@{NODE}": 16.0, f"load1@{NODE}": 3.0})
    services.store.append(now - 5, {"load1@web-9": 1.0})  # a target without a count
    services.extras[ALERTS_KEY].cpus.refresh(now)
    page = client.get("/").get_data(as_text=True)
    config = json.loads(
        re.search(r'<script id="foresight-config" type="application/json">(.*?)</script>', page)
        .group(1)
        .replace("&#34;", '"')
    )
    cpus = config["target_cpus"]
    host = services.extras[ALERTS_KEY].cores
    assert cpus[""] == host and cpus[NODE] == 16 and cpus["web-9"] is None
    with client.application.test_request_context():
        context = page_context(services)
    assert context["target_cpus"] == cpus
    assert {"catalog", "interval_s", "host", "token_required", "stress"} <= set(context)
