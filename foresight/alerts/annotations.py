"""An alert's annotations, rendered again only when what they show changed.

An active alert is observed every tick; most ticks its value, level and times render to
the same text. ``Rendered`` keeps, per alert, the rule, the inputs the text was rendered
from and the text, and renders again when any of them differs.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from foresight.alerts.conditions import Observation, Signals
from foresight.alerts.rules import Rule
from foresight.alerts.templates import compile_template, render
from foresight.core.catalog import metric_info


class Rendered:
    """Annotations per alert key; not thread-safe (the engine holds its lock).

    ``reuse=False`` renders every annotation afresh through the reference renderer (the
    full evaluation the tests compare with).
    """

    def __init__(self, reuse: bool = True) -> None:
        self.reuse = reuse
        # per alert: the rule, the inputs its annotations were rendered from, the text
        self._known: dict[tuple[str, str], tuple[Rule, tuple, dict[str, str]]] = {}

    def keep(self, active: Container[tuple[str, str]]) -> None:
        """Forget the alerts that are no longer active."""
        for key in [k for k in self._known if k not in active]:
            del self._known[key]

    def annotations(self, rule: Rule, ob: Observation, s: Signals) -> dict[str, str]:
        """The rule's annotations for this observation; an active alert whose inputs did
        not change since the last tick keeps the text it has (the same inputs render the
        same text: floats are compared by their bits, so -0.0 is not 0.0)."""
        if not rule.annotations:
            return {}
        cores = s.cores_for(ob.metric)
        inputs = (
            ob.metric,
            _bits(ob.value),
            _bits(ob.threshold),
            _bits(ob.clear),
            cores,
            tuple((k, _bits(v)) for k, v in ob.extra.items()),
        )
        key = (rule.name, ob.metric)
        known = self._known.get(key)
        if self.reuse and known is not None and known[0] is rule and known[1] == inputs:
            return known[2]
        values = {
            "name": rule.name,
            "metric": ob.metric,
            "severity": rule.severity.value,
            "value": ob.value,
            "threshold": ob.threshold,
            "clear": ob.clear,
            "unit": metric_info(ob.metric).unit,
            "for_s": rule.for_s,
            "cores": cores,
            **ob.extra,
        }
        if self.reuse:
            text = {k: compile_template(t)(values) for k, t in rule.annotations.items()}
        else:
            text = {k: render(t, values) for k, t in rule.annotations.items()}
        self._known[key] = (rule, inputs, text)
        return text


def _bits(value: Any) -> Any:
    """A value as an annotation cache key: a float by its exact bits (0.0 and -0.0 render
    differently, NaN equals itself; a str, so no tuple to allocate and collect), a float
    subclass (numpy's, whose repr differs) with its type, anything else as it is."""
    if type(value) is float:
        return value.hex()
    return (type(value), value.hex()) if isinstance(value, float) else value
