"""Compiled annotation templates render exactly what the reference renderer does."""

from __future__ import annotations

import math
import random

import pytest

from foresight.alerts.rules import RuleBook
from foresight.alerts.templates import TEMPLATE_KEYS, compile_template, render

EDGE = [
    "",
    "plain text",
    "{{braces}} and {value}",
    "{value:.0f} % {threshold:g} {clear:>8.2f}|{unit!s}|{metric!r}|{name!a}",
    "{when} in {in_s:.0f} s, chance {probability:.0%}",
    "{value:+.1f} {cores} CPUs {for_s:g} s {severity:^10}",
    "{value.real} {metric[0]}",  # attribute and index: the reference path
    "{value:{threshold}}",  # a nested field in a spec: the reference path
    "{}",  # automatic numbering: IndexError as in the reference
    "{0}",
    "{unknown}",  # not a template name: KeyError
    "{value!x}",  # a bad conversion: ValueError
    "{value:.0f",  # unbalanced: ValueError
    "}",
    "{value:d}",  # a float with an int format: ValueError
]
VALUES = [None, 0.0, -0.0, 1.0, -2.5, 97.123456, math.nan, math.inf, 3, "web", "2026-01-01"]


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except (KeyError, ValueError, IndexError, TypeError, AttributeError) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("seed", range(2))
def test_compiled_templates_equal_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    templates = EDGE + [t for r in RuleBook().rules for t in r.annotations.values()]
    for _ in range(120):
        values = {k: rng.choice(VALUES) for k in TEMPLATE_KEYS if rng.random() < 0.8}
        for template in templates:
            assert outcome(compile_template(template), values) == outcome(
                render, template, values
            ), template
