"""Alert rules: a YAML file users edit, parsed into frozen ``Rule`` records.

The file is a list under ``rules:``; each rule is shaped like a Prometheus alerting rule
(name, ``for``, labels, annotations) with Foresight's own expression kinds instead of
PromQL. ``RuleBook`` keeps the rules of one file and reloads them when the file changes
or when ``request_reload`` is called (the monitor's SIGHUP handler); a file that fails to
parse on reload keeps the previous rules and reports the error.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from foresight.alerts.templates import TEMPLATE_KEYS, render
from foresight.core.catalog import metric_info
from foresight.core.errors import InputError
from foresight.core.series import metric_of

logger = logging.getLogger(__name__)

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.yml")
LOAD_METRICS = ("load1",)
BANDS = ("mean", "upper_80", "upper_95", "lower_80", "lower_95")


class Kind(str, Enum):
    """What a rule's condition reads."""

    THRESHOLD = "threshold"  # the current value against a level
    FORECAST = "forecast"  # a forecast band crosses a level within a horizon
    EXHAUSTION = "exhaustion"  # a linear trend reaches a limit within a horizon
    ANOMALY = "anomaly"  # the live detector flagged the metric recently
    STALE = "stale"  # no sample for longer than window_s
    MISSED_TICKS = "missed_ticks"  # at least `limit` ticks missed within window_s
    PROBE = "probe"  # a probe's success metric reads 0
    RISK = "risk"  # the live failure probability or crash-risk score reaches a level


# The live risk signals a ``risk`` rule reads, and what warning/critical mean for each:
# the lower edges of the High and Critical levels (crash risk: High > 0.50, Critical >
# 0.75; failure probability: HIGH 0.6-0.8, CRITICAL > 0.8).
RISK_LEVELS = {
    "crash_risk_score": {"warning": 0.5, "critical": 0.75},
    "failure_probability": {"warning": 0.6, "critical": 0.8},
}


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def duration_s(raw: Any, what: str) -> float:
    """Seconds from ``30``, ``"30s"``, ``"5m"``, ``"4h"``, ``"1d"``; raises InputError."""
    if isinstance(raw, bool):
        raise InputError(f"{what} must be a duration like 30s, 5m or 4h (got {raw!r})")
    if isinstance(raw, int | float):
        if math.isfinite(raw) and raw >= 0:
            return float(raw)
    elif isinstance(raw, str) and (match := _DURATION.match(raw)):
        return float(match.group(1)) * _UNIT_S[match.group(2)]
    raise InputError(f"{what} must be a duration like 30s, 5m or 4h (got {raw!r})")


@functools.lru_cache(maxsize=65536)
def _matches(pattern: str, metric: str) -> bool:
    """``Rule.matches``, remembered: every tick asks it again for every rule and metric."""
    return fnmatch.fnmatchcase(metric, pattern) or fnmatch.fnmatchcase(metric_of(metric), pattern)


@functools.lru_cache(maxsize=4096)
def matching(pattern: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The ``names`` a rule for ``pattern`` watches, sorted: each tick asks every rule
    again with the same metric names, so the answer is remembered per set of names."""
    return tuple(sorted({m for m in names if _matches(pattern, m)}))


@functools.lru_cache(maxsize=4096)
def _threshold(
    kind: Kind, level: float | str | None, per_core: bool, metric: str, cores: int | None
) -> float | None:
    """``Rule.threshold``, remembered: every tick asks it again for every rule and metric
    (a catalog level is a catalog lookup, a per-core metric's builds a new entry)."""
    if isinstance(level, str) and kind is Kind.RISK:
        level = RISK_LEVELS.get(metric, {}).get(level)
    elif isinstance(level, str):
        info = metric_info(metric, cores)
        level = info.warning if level == "warning" else info.critical
    if level is None or (per_core and cores is None):
        return None
    return float(level) * (cores if per_core and cores is not None else 1)


@dataclass(frozen=True, slots=True)
class Rule:
    """One alerting rule; durations in seconds, levels in the metric's catalog units."""

    name: str
    kind: Kind
    severity: Severity
    metric: str = "*"  # a metric name or a glob (cpu_core*_percent)
    level: float | str | None = None  # a number, or "warning"/"critical" from the catalog
    clear: float | None = None  # resolves once the value is back past this (hysteresis)
    for_s: float = 0.0
    below: bool = False  # fire when the value is below the level instead of above
    per_core: bool = False  # level and clear are per logical CPU (load)
    within_s: float = 0.0  # forecast / exhaustion horizon
    window_s: float = 0.0  # trend window, anomaly look-back, staleness, missed-tick window
    band: str = "mean"  # the forecast band that must cross
    limit: float | None = None  # exhaustion: the full level; missed_ticks: how many
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))

    def matches(self, metric: str) -> bool:
        """True when the series key or its metric name (``NAME`` of ``NAME@TARGET``)
        matches: a rule for ``cpu_percent`` watches every target's CPU."""
        return _matches(self.metric, metric)

    def threshold(self, metric: str, cores: int | None) -> float | None:
        """The level for ``metric`` (catalog names resolved, per-core scaled).

        ``cores`` is the CPU count of ``metric``'s target; None (unknown): a per-core
        rule has no level for it, and neither has a catalog level judged per CPU.
        """
        return _threshold(self.kind, self.level, self.per_core, metric, cores)

    def clear_level(self, metric: str, cores: int | None) -> float | None:
        """Where a firing alert resolves: ``clear`` (per-core scaled) or the level."""
        if self.clear is None:
            return self.threshold(metric, cores)
        if self.per_core and cores is None:
            return None
        return float(self.clear) * (cores if self.per_core and cores is not None else 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "metric": self.metric,
            "level": self.level,
            "clear": self.clear,
            "for_s": self.for_s,
            "below": self.below,
            "per_core": self.per_core,
            "within_s": self.within_s,
            "window_s": self.window_s,
            "band": self.band,
            "limit": self.limit,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }


_KEYS = {
    "name",
    "kind",
    "severity",
    "metric",
    "level",
    "clear",
    "for",
    "below",
    "per_core",
    "within",
    "window",
    "band",
    "limit",
    "labels",
    "annotations",
}
_NEEDS_LEVEL = (Kind.THRESHOLD, Kind.FORECAST, Kind.RISK)
_NEEDS_WINDOW = (Kind.EXHAUSTION, Kind.STALE, Kind.MISSED_TICKS, Kind.ANOMALY)


def _number(raw: Any, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise InputError(f"{what} must be a number (got {raw!r})")
    return float(raw)


def _bool(raw: Any, what: str) -> bool:
    if not isinstance(raw, bool):
        raise InputError(f"{what} must be true or false (got {raw!r})")
    return raw


def _strings(raw: Any, what: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise InputError(f"{what} must be a mapping of names to text (got {raw!r})")
    return {k: str(v) for k, v in raw.items()}


def parse_rule(raw: Any, where: str) -> Rule:
    """One rule from its YAML mapping; errors name the rule and the offending value."""
    if not isinstance(raw, Mapping):
        raise InputError(f"{where} must be a mapping (got {raw!r})")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise InputError(f"{where}: name must be an identifier like CpuCritical (got {name!r})")
    where = f"rule {name}"
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    try:
        kind = Kind(raw.get("kind"))
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise InputError(
            f"{where}: kind must be one of {kinds} (got {raw.get('kind')!r})"
        ) from None
    try:
        severity = Severity(raw.get("severity", "warning"))
    except ValueError:
        raise InputError(
            f"{where}: severity must be info, warning or critical (got {raw.get('severity')!r})"
        ) from None
    level = raw.get("level")
    if level is not None and level not in ("warning", "critical"):
        level = _number(level, f"{where}: level")
    if kind in _NEEDS_LEVEL and level is None:
        raise InputError(f"{where}: a {kind.value} rule needs a level (a number or critical)")
    band = raw.get("band", "mean")
    if band not in BANDS:
        raise InputError(f"{where}: band must be one of {', '.join(BANDS)} (got {band!r})")
    metric = raw.get("metric", "*")
    if not isinstance(metric, str) or not metric:
        raise InputError(f"{where}: metric must be a name or a glob (got {metric!r})")
    rule = Rule(
        name=name,
        kind=kind,
        severity=severity,
        metric=metric,
        level=level,
        clear=None if raw.get("clear") is None else _number(raw["clear"], f"{where}: clear"),
        for_s=duration_s(raw.get("for", 0), f"{where}: for"),
        below=_bool(raw.get("below", False), f"{where}: below"),
        per_core=_bool(raw.get("per_core", False), f"{where}: per_core"),
        within_s=duration_s(raw.get("within", 0), f"{where}: within"),
        window_s=duration_s(raw.get("window", 0), f"{where}: window"),
        band=band,
        limit=None if raw.get("limit") is None else _number(raw["limit"], f"{where}: limit"),
        labels=_strings(raw.get("labels"), f"{where}: labels"),
        annotations=_strings(raw.get("annotations"), f"{where}: annotations"),
    )
    if kind in (Kind.FORECAST, Kind.EXHAUSTION) and rule.within_s <= 0:
        raise InputError(f"{where}: a {kind.value} rule needs within (e.g. 15m or 24h)")
    if kind in _NEEDS_WINDOW and rule.window_s <= 0:
        raise InputError(f"{where}: a {kind.value} rule needs window (e.g. 1m or 6h)")
    if kind is Kind.RISK:
        names = [m for m in RISK_LEVELS if rule.matches(m)]
        if not names:
            raise InputError(
                f"{where}: a risk rule's metric must be {' or '.join(RISK_LEVELS)} (got {metric!r})"
            )
        if isinstance(level, float) and not 0.0 <= level <= 1.0:
            raise InputError(f"{where}: a risk level must be in [0, 1] (got {level:g})")
    if kind is Kind.MISSED_TICKS:
        if rule.limit is None or rule.limit < 1:
            raise InputError(f"{where}: a missed_ticks rule needs limit >= 1 (got {rule.limit})")
        if rule.clear is not None and not 0 <= rule.clear < rule.limit:
            raise InputError(
                f"{where}: clear must be in [0, limit) for a missed_ticks rule "
                f"(got clear {rule.clear:g}, limit {rule.limit:g}): it resolves at clear or fewer"
            )
    if kind is Kind.EXHAUSTION and rule.limit is None:
        raise InputError(f"{where}: an exhaustion rule needs limit (e.g. 100 for a percent)")
    for key, template in rule.annotations.items():
        try:
            render(template, {k: 1.0 for k in TEMPLATE_KEYS})
        except (KeyError, ValueError, IndexError) as exc:
            raise InputError(
                f"{where}: annotation {key} {template!r} does not render ({exc!r}); "
                f"it may name {', '.join(TEMPLATE_KEYS)}"
            ) from None
    return rule


def parse_rules(text: str, source: str) -> tuple[Rule, ...]:
    """Every rule of a YAML document; names must be unique per metric glob."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
        raise InputError(f"{source} must be a mapping with a list under 'rules:'")
    rules = tuple(parse_rule(raw, f"{source} rule #{i + 1}") for i, raw in enumerate(doc["rules"]))
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        if (rule.name, rule.metric) in seen:
            raise InputError(f"{source}: rule {rule.name} for {rule.metric} appears twice")
        seen.add((rule.name, rule.metric))
    return rules


def load_rules(path: Path) -> tuple[Rule, ...]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InputError(f"cannot read alert rules {path}: {exc.strerror or exc}") from None
    return parse_rules(text, str(path))


class RuleBook:
    """The rules of one file, reloaded when it changes or after ``request_reload``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else DEFAULT_RULES_PATH
        self.rules: tuple[Rule, ...] = load_rules(self.path)  # bad at start: InputError
        self.error: str | None = None
        self.loaded_count = 1
        self._stamp = self._file_stamp()
        self._reload = threading.Event()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def request_reload(self) -> None:
        """Reload at the next ``refresh`` (safe to call from a signal handler)."""
        self._reload.set()

    def refresh(self) -> bool:
        """Reload if the file changed or a reload was requested; True when reloaded."""
        stamp = self._file_stamp()
        if stamp == self._stamp and not self._reload.is_set():
            return False
        self._reload.clear()
        self._stamp = stamp
        try:
            self.rules = load_rules(self.path)
        except InputError as exc:
            self.error = str(exc)
            logger.error("alert rules not reloaded, keeping the previous ones: %s", exc)
            return False
        self.error = None
        self.loaded_count += 1
        logger.info("reloaded %d alert rules from %s", len(self.rules), self.path)
        return True

    def status(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "rules": len(self.rules),
            "load_count": self.loaded_count,
            "error": self.error,
        }
