"""One ``Settings`` object, built once from command-line flags and the environment.

Every module takes what it needs from it; none reads ``os.environ`` itself. The table
``foresight.core.environment.ENVIRONMENT`` is the single list of variables: their parser,
default and meaning (the parsers are in ``foresight.core.env_parsers``). The README's
environment table is checked against it by a test.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from foresight.core.env_parsers import token
from foresight.core.environment import (
    ENVIRONMENT,
    MAX_INTERVAL_S,
    MIN_INTERVAL_S,
    SOURCE_NAMES,
    EnvVar,
)
from foresight.core.errors import InputError


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the monitor and the CLIs are configured with (units in names)."""

    host: str = "127.0.0.1"
    port: int = 5000
    interval_s: float = 1.0
    data_dir: Path = field(default_factory=lambda: Path("data"))
    retention_days: float = 7.0
    token: str | None = None
    allowed_hosts: tuple[str, ...] | None = None  # extra names accepted in the Host header
    probe_url: str | None = None  # None: Foresight's own health endpoint
    # seconds between HTTP probes; None: every 5 s for the own health endpoint, every tick
    # for a probe_url of the user's (metrics_collector.SELF_PROBE_EVERY_S says why)
    probe_every_s: float | None = None
    db_probe_url: str | None = None  # a SQLAlchemy URL whose SELECT 1 is timed
    connections_port: int | None = None  # None: the monitor's own port; 0: not counted
    connections_every_s: float = 30.0
    malloc_arenas: int = 1  # glibc malloc arenas of --monitor (0: glibc's default)
    sql_url: str | None = None  # the SQL source's database (monitor --source sql)
    # live forecasting
    live_models: bool = True
    forecast_refit_s: float = 300.0
    forecast_job_s: float = 15.0
    forecast_budget_s: float = 2.0  # wall seconds of refitting per job run
    forecast_refit_core_share: float = 0.25  # of one core, for refits (fit worker + reads)
    fit_timeout_s: float = 300.0  # a fit worker silent this long with work queued is killed
    # the seeds' LSTM as a live candidate (the lstm extra), on its own cadence and budget
    forecast_lstm: bool = False
    forecast_lstm_refit_s: float = 86_400.0  # at most one LSTM round per model this often
    forecast_lstm_cpu_s_per_min: float = 0.5  # fit-worker CPU-s LSTM rounds may average
    forecast_refit_steps: float = 30.0  # a kept choice is refit after this many tier buckets
    # live scaling
    live_scaling: bool = True
    scaling_policy: str = "hybrid"
    scaling_mode: str = "auto"
    scaling_interval_s: float = 15.0
    scaling_boot_s: float = 60.0
    scaling_instance_cores: float = 1.0
    min_instances: int = 1
    max_instances: int = 10
    cost_threshold_usd: float = 25.0
    confidence_threshold: float = 0.7
    scaling_webhook_url: str | None = None
    scaling_webhook_token: str | None = None
    scaling_status_url: str | None = None
    scaling_signals: tuple[str, ...] = ("cpu", "memory")
    scaling_instance_memory_gb: float | None = None  # None: host memory per core x cores
    # a series key (NAME or NAME@TARGET) whose value / unit capacity is the demand
    scaling_demand_metric: str | None = None
    scaling_unit_capacity: float | None = None  # demand one instance serves, in its unit
    # alerts
    live_alerts: bool = True
    alert_rules_path: Path | None = None  # None: the rules shipped in foresight/alerts
    alertmanager_url: str | None = None
    alert_webhook_url: str | None = None
    # failure risk: a model directory written by ``main.py risk-train``
    risk_model: str | None = None
    # the source of samples (--source; foresight.sources): local or prometheus
    source: str = "local"
    prometheus_url: str | None = None
    prometheus_queries: tuple[tuple[str, str], ...] = ()  # (NAME, PROMQL) from the flags
    prometheus_queries_path: Path | None = None  # a TOML file of named queries
    prometheus_catchup_s: float = 3600.0  # how far back the first read (and a gap) reaches
    prometheus_timeout_s: float = 5.0  # per request, and at most 80 % of the interval

    @property
    def db_path(self) -> Path:
        return Path(self.data_dir) / "foresight.db"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and the bench use this)."""
        return replace(self, **changes)


_DEFAULTS = Settings()


def default_of(var: EnvVar) -> Any:
    """The value a variable's field has when the variable is unset."""
    return getattr(_DEFAULTS, var.field)


def from_environment(environ: Mapping[str, str] | None = None, **flags: Any) -> Settings:
    """Build Settings: flags that are not None win, then the environment, then defaults.

    Raises InputError naming the variable or flag for a bad value, and refuses a
    non-loopback host without a token (DESIGN.md's hard rule).
    """
    environ = os.environ if environ is None else environ
    names = {f.name for f in fields(Settings)}
    unknown = set(flags) - names
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}")
    values: dict[str, Any] = {}
    for var in ENVIRONMENT:
        if flags.get(var.field) is not None:
            continue  # the flag wins; a bad value in the environment then doesn't matter
        raw = environ.get(var.name)
        if raw is not None and (raw.strip() != "" or (raw and var.parse is token)):
            # a blank token is a mistake, not "unset": say so rather than run unprotected
            values[var.field] = var.parse(raw, var.name)
    values.update({k: v for k, v in flags.items() if v is not None})
    for key in ("data_dir", "alert_rules_path", "prometheus_queries_path"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    settings = Settings(**values)
    _check(settings, flags)
    return settings


def _check(settings: Settings, flags: Mapping[str, Any]) -> None:
    if not MIN_INTERVAL_S <= settings.interval_s <= MAX_INTERVAL_S:
        source = "--interval" if flags.get("interval_s") is not None else "METRICS_INTERVAL"
        raise InputError(
            f"{source} must be from {MIN_INTERVAL_S} to {MAX_INTERVAL_S:g} "
            f"seconds (got {settings.interval_s:g})"
        )
    if settings.min_instances > settings.max_instances:
        raise InputError(
            f"MIN_INSTANCES ({settings.min_instances}) must not exceed "
            f"MAX_INSTANCES ({settings.max_instances})"
        )
    if settings.source not in SOURCE_NAMES:
        raise InputError(
            f"--source must be one of {', '.join(SOURCE_NAMES)} (got {settings.source!r})"
        )
    if settings.source == "prometheus":
        if settings.prometheus_url is None:
            raise InputError("--source prometheus needs --prometheus-url URL")
        if not settings.prometheus_queries and settings.prometheus_queries_path is None:
            raise InputError(
                "--source prometheus needs --prometheus-query NAME=PROMQL (repeatable) "
                "or --prometheus-queries FILE"
            )
    if not is_loopback(settings.host) and settings.token is None:
        raise InputError(
            f"refusing to listen on {settings.host} without a token: set "
            "FORESIGHT_TOKEN (state-changing requests will need "
            "'Authorization: Bearer <token>'), or use --host 127.0.0.1"
        )
