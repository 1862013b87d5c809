"""SamplerMissedTicks: a 5-minute count hovering at its limit fires once, not a flap."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from foresight.alerts.conditions import Signals
from foresight.alerts.engine import AlertEngine
from foresight.alerts.rules import RuleBook, parse_rules
from foresight.core.errors import InputError
from foresight.store.alert_log import AlertLog
from foresight.store.metric_store import MetricStore

T0 = 1_800_000_000.0


def default_missed_rule_only(tmp_path: Path) -> RuleBook:
    """The shipped SamplerMissedTicks rule on its own (the file is the package's)."""
    shipped = RuleBook().path.read_text()
    block = re.search(r"  - name: SamplerMissedTicks\n(?:    .*\n|\s*#.*\n)+", shipped)
    assert block is not None
    path = tmp_path / "rules.yml"
    path.write_text("rules:\n" + block.group(0))
    return RuleBook(path)


def run(engine: AlertEngine, counts: list[int]) -> list[tuple[float, str, float, str]]:
    """Evaluate the rule every 10 s with these missed-tick counts; the state changes."""
    changes = []
    for k, count in enumerate(counts):
        now = T0 + 10.0 * k
        sig = Signals(now=now, values={}, sample_at=now, missed_since=lambda since, c=count: c)
        for record in engine.evaluate(sig):
            if not changes or changes[-1][1] != record.state:
                changes.append((now, record.state, record.value, record.annotations["summary"]))
    return changes


@pytest.fixture
def engine(tmp_path: Path):
    with MetricStore(tmp_path / "f.db") as store:
        yield AlertEngine(default_missed_rule_only(tmp_path), AlertLog(store))


def test_a_count_hovering_at_the_limit_fires_once_and_holds(engine) -> None:
    # Under load: 10, 9, 10, 9 ... for 4 minutes (one tick ages out, one more is missed).
    hovering = [10, 9] * 12
    changes = run(engine, [0, 0, *hovering])
    states = [c[1] for c in changes]
    assert states == ["pending", "firing"], changes  # before: firing/resolved flapping
    fired_at = changes[1][0]
    assert fired_at - changes[0][0] >= 60.0  # `for: 1m`


def test_it_resolves_once_the_count_falls_to_clear_and_says_that_value(engine) -> None:
    changes = run(engine, [12] * 8 + [9, 8, 7, 6, 5, 4, 3, 0])
    assert [c[1] for c in changes] == ["pending", "firing", "resolved"], changes
    resolved_at, _, value, summary = changes[-1]
    assert resolved_at == T0 + 10.0 * 13 and value == 4.0  # clear: 4 (held at 9 .. 5)
    # The text beside the value is about the same value (before: "12 ... missed").
    assert summary.startswith(f"{value:.0f} sampling ticks missed"), summary


def test_clear_must_sit_below_the_limit() -> None:
    text = "rules: [{name: X, kind: missed_ticks, window: 5m, limit: 10, clear: 10}]"
    with pytest.raises(InputError, match=r"clear must be in \[0, limit\).*clear 10, limit 10"):
        parse_rules(text, "test")
    with pytest.raises(InputError, match="needs limit"):
        parse_rules("rules: [{name: X, kind: missed_ticks, window: 5m}]", "test")
