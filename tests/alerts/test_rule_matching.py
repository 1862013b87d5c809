"""The remembered per-rule metric matching names what Rule.matches names, tick after tick."""

from __future__ import annotations

import random

from foresight.alerts.conditions import Signals, observe
from foresight.alerts.rules import Kind, RuleBook, matching
from foresight.core.catalog import METRIC_CATALOG

T0 = 1_700_000_000.0


def test_matching_equals_rule_matches_on_every_default_rule():
    rng = random.Random(8)
    keys = [*METRIC_CATALOG, "cpu_percent@web1", "mem_percent@db:5432", "custom_metric"]
    for rule in RuleBook().rules:
        for _ in range(20):
            names = tuple(rng.sample(keys, rng.randint(0, len(keys))))
            assert matching(rule.metric, names) == tuple(
                sorted({m for m in names if rule.matches(m)})
            )


def test_observe_names_the_matching_and_the_active_metrics_sorted():
    values = {m: 1.0 for m in METRIC_CATALOG}
    values["cpu_percent@web1"] = 99.0
    s = Signals(T0, values, T0)
    for rule in RuleBook().rules:
        if rule.kind in (Kind.STALE, Kind.MISSED_TICKS, Kind.RISK):
            continue
        for active in ([], ["gone_metric"], ["cpu_percent", "zz@t"]):
            old = sorted({m for m in values if rule.matches(m)} | set(active))
            assert [o.metric for o in observe(rule, s, active)] == old
            # the same answer again from the remembered names, and from a generator
            assert [o.metric for o in observe(rule, s, iter(active))] == old
