"""One ``Settings`` object, built once from command-line flags and the environment.

Every module takes what it needs from it; none reads ``os.environ`` itself. The table
``ENVIRONMENT`` is the single list of variables: their parser, default and meaning. The
README's environment table is checked against it by a test.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from foresight.core.errors import InputError
from foresight.core.series import check_metric_name, check_target
from foresight.core.validate import parse_number

MIN_INTERVAL_S = 0.05  # psutil and SQLite cannot keep a faster beat honestly
MAX_INTERVAL_S = 3600.0
POLICY_NAMES = ("threshold", "reactive", "predictive", "hybrid")
# Where samples come from (``--source``): this host, or Prometheus' HTTP API.
SOURCE_NAMES = ("local", "prometheus", "sql")
MODE_NAMES = ("auto", "dry-run", "paused")
SIGNAL_NAMES = ("cpu", "memory")  # foresight.scaling.signals.SIGNAL_NAMES (a test keeps them equal)


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
    db_probe_url: str | None = None  # a SQLAlchemy URL whose SELECT 1 is timed
    connections_port: int | None = None  # None: the monitor's own port; 0: not counted
    connections_every_s: float = 30.0
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


def _number(
    minimum: float | None = None, maximum: float | None = None, cast: Callable[[float], Any] = float
) -> Callable[[str, str], Any]:
    def parse(raw: str, name: str) -> Any:
        value = parse_number(raw, name, minimum=minimum, maximum=maximum)
        if cast is int and value != int(value):
            raise InputError(f"{name} must be a whole number (got {raw.strip()!r})")
        return cast(value)

    return parse


def _text(raw: str, name: str) -> str | None:
    return raw.strip() or None


MIN_TOKEN_CHARS = 16


def _token(raw: str, name: str) -> str:
    """A bearer token: at least 16 printable ASCII characters, no whitespace.

    A token with spaces or non-ASCII characters could never be sent back in an
    ``Authorization`` header byte for byte, and a short one can be guessed.
    """
    if any(ch.isspace() for ch in raw):
        raise InputError(
            f"{name} must not contain whitespace (got {len(raw)} characters including "
            "spaces, tabs or newlines); remove them"
        )
    if not raw.isascii() or not raw.isprintable():
        raise InputError(f"{name} must be printable ASCII characters only")
    if len(raw) < MIN_TOKEN_CHARS:
        raise InputError(
            f"{name} must be at least {MIN_TOKEN_CHARS} characters (got {len(raw)}); "
            "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    return raw


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^\.?{_LABEL}(?:\.{_LABEL})*$")


def _host_names(raw: str, name: str) -> tuple[str, ...]:
    """A comma-separated list of host names or IP addresses, without ports.

    A leading dot (``.example.org``) also accepts every subdomain.
    """
    names: list[str] = []
    for item in (part.strip().lower() for part in raw.split(",")):
        if not item:
            continue
        bare = item.strip("[]")
        try:
            ipaddress.ip_address(bare)
        except ValueError:
            if not _HOST_NAME.match(item) or len(item) > 253:
                raise InputError(
                    f"{name} must list host names or IP addresses separated by commas, "
                    f"without scheme or port (got {item!r})"
                ) from None
            names.append(item)
        else:
            names.append(bare)
    if not names:
        raise InputError(f"{name} lists no host names (got {raw!r})")
    return tuple(dict.fromkeys(names))


def _file(raw: str, name: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise InputError(f"{name} must name an existing file (got {raw.strip()!r})")
    return path


def _url(raw: str, name: str) -> str:
    text = raw.strip().rstrip("/")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{name} must be an http:// or https:// URL (got {raw.strip()!r})")
    return text


def _sql_url(raw: str, name: str) -> str:
    from foresight.core.sql_engine import sql_url  # SQLAlchemy: only when one is set

    return sql_url(raw, name)


def parse_url(raw: str, name: str) -> str:
    """An http(s) URL without a trailing slash; InputError naming ``name`` otherwise."""
    return _url(raw, name)


def _flag(raw: str, name: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InputError(f"{name} must be 1 or 0 (got {raw.strip()!r})")


def _choice(options: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(raw: str, name: str) -> str:
        text = raw.strip()
        if text not in options:
            raise InputError(f"{name} must be one of {', '.join(options)} (got {text!r})")
        return text

    return parse


def _series_key(raw: str, name: str) -> str | None:
    """A series key ``NAME`` or ``NAME@TARGET`` (foresight.core.series), or None if empty."""
    text = raw.strip()
    if not text:
        return None
    metric, _, target = text.partition("@")
    try:
        check_metric_name(metric, name)
        check_target(target, name)
    except ValueError as exc:
        raise InputError(f"{exc} (a series key NAME or NAME@TARGET)") from None
    return text


def _signal_names(raw: str, name: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    bad = [n for n in names if n not in SIGNAL_NAMES]
    if bad or not names:
        raise InputError(
            f"{name} must list some of {', '.join(SIGNAL_NAMES)} (got {raw.strip()!r})"
        )
    return names


@dataclass(frozen=True, slots=True)
class EnvVar:
    """One environment variable: the Settings field it sets, its parser and meaning."""

    name: str
    field: str
    parse: Callable[[str, str], Any]
    meaning: str


ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar(
        "FORESIGHT_TOKEN",
        "token",
        _token,
        "bearer token (16+ ASCII characters, no spaces); required to listen beyond loopback, "
        "and then needed by every POST/DELETE and to see host details",
    ),
    EnvVar(
        "METRICS_INTERVAL",
        "interval_s",
        _number(MIN_INTERVAL_S, MAX_INTERVAL_S),
        "seconds between samples (the `--interval` flag wins)",
    ),
    EnvVar(
        "FORESIGHT_PROBE_URL",
        "probe_url",
        _text,
        "URL the HTTP probe times (default: own `/api/system/health`)",
    ),
    EnvVar(
        "FORESIGHT_LIVE_MODELS",
        "live_models",
        _flag,
        "1: refit forecasts and score anomalies live; 0: off",
    ),
    EnvVar(
        "FORECAST_REFIT_S",
        "forecast_refit_s",
        _number(10.0, 86_400.0),
        "how often each model is refit",
    ),
    EnvVar(
        "FORECAST_JOB_S",
        "forecast_job_s",
        _number(1.0, 3600.0),
        "how often the refit job runs (it sends due fits to the fit worker process)",
    ),
    EnvVar(
        "FORESIGHT_LIVE_SCALING", "live_scaling", _flag, "1: run the scaling engine live; 0: off"
    ),
    EnvVar(
        "SCALING_POLICY",
        "scaling_policy",
        _choice(POLICY_NAMES),
        "threshold, reactive, predictive or hybrid",
    ),
    EnvVar(
        "SCALING_MODE",
        "scaling_mode",
        _choice(MODE_NAMES),
        "auto, dry-run (decide and record, don't act) or paused",
    ),
    EnvVar(
        "SCALING_INTERVAL",
        "scaling_interval_s",
        _number(1.0, 3600.0),
        "seconds between scaling decisions",
    ),
    EnvVar(
        "SCALING_BOOT_S",
        "scaling_boot_s",
        _number(0.0, 3600.0),
        "simulated boot lag of a live instance",
    ),
    EnvVar(
        "SCALING_INSTANCE_CORES",
        "scaling_instance_cores",
        _number(0.01, 1024.0),
        "host cores one instance stands for (live demand = cores busy / this)",
    ),
    EnvVar("MIN_INSTANCES", "min_instances", _number(0, 10_000, int), "pool's lower bound"),
    EnvVar(
        "MAX_INSTANCES",
        "max_instances",
        _number(1, 10_000, int),
        "pool's upper bound (also `replay`'s default)",
    ),
    EnvVar(
        "COST_THRESHOLD",
        "cost_threshold_usd",
        _number(0.0, 1e9),
        "daily budget in USD (no scale-up that the rest of today's budget cannot pay for)",
    ),
    EnvVar(
        "CONFIDENCE_THRESHOLD",
        "confidence_threshold",
        _number(0.0, 1.0),
        "least confidence a policy acts on: the threshold policy's bar, and the chance the "
        "predictive and hybrid policies' count covers the forecast demand (their 80 % band "
        "already gives about 0.9, so only a higher value adds instances); 0 to 1",
    ),
    EnvVar(
        "SCALING_WEBHOOK_URL",
        "scaling_webhook_url",
        _text,
        "also POST each desired count as JSON to a real scaler (retried with backoff; "
        "failures reported)",
    ),
    EnvVar(
        "SCALING_WEBHOOK_TOKEN", "scaling_webhook_token", _text, "bearer token sent to that webhook"
    ),
    EnvVar(
        "SCALING_STATUS_URL",
        "scaling_status_url",
        _url,
        "GET here after each decision to read back the platform's instance count "
        "(`actual_instances` or `replicas`, also under `status`); without it the webhook's "
        "answer is read; drift is shown and alerted (rule ScalingDrift)",
    ),
    EnvVar(
        "SCALING_SIGNALS",
        "scaling_signals",
        _signal_names,
        "comma-separated demand signals, the highest wins as in the HPA: cpu, memory",
    ),
    EnvVar(
        "SCALING_INSTANCE_MEMORY_GB",
        "scaling_instance_memory_gb",
        _number(0.001, 1e6),
        "memory request of one instance (default: this host's memory per core x "
        "SCALING_INSTANCE_CORES; live memory demand = memory used / this)",
    ),
    EnvVar(
        "SCALING_DEMAND_METRIC",
        "scaling_demand_metric",
        _series_key,
        "the series whose value drives demand instead of this host's CPU and memory: a "
        'series key (`requests_per_s@service="api"`) or a plain name (this host\'s series); '
        "its live forecast feeds the predictive and hybrid policies; needs "
        "SCALING_UNIT_CAPACITY",
    ),
    EnvVar(
        "SCALING_UNIT_CAPACITY",
        "scaling_unit_capacity",
        _number(1e-9, 1e15),
        "demand one instance serves, in SCALING_DEMAND_METRIC's unit (e.g. requests/s per "
        "instance; `replay --unit-capacity`'s meaning): demand units = value / this",
    ),
    EnvVar(
        "FORESIGHT_ALLOWED_HOSTS",
        "allowed_hosts",
        _host_names,
        "comma-separated names the dashboard may be reached by, besides loopback and `--host` "
        "(a leading dot allows subdomains); any other `Host` header gets 421",
    ),
    EnvVar("FORESIGHT_LIVE_ALERTS", "live_alerts", _flag, "1: evaluate alert rules live; 0: off"),
    EnvVar(
        "FORESIGHT_ALERT_RULES",
        "alert_rules_path",
        _file,
        "YAML file of alert rules (default: the shipped `foresight/alerts/default_rules.yml`); "
        "reloaded on change and on SIGHUP",
    ),
    EnvVar(
        "ALERTMANAGER_URL",
        "alertmanager_url",
        _url,
        "Alertmanager base URL; alerts are POSTed to its `/api/v2/alerts` (retried with backoff)",
    ),
    EnvVar(
        "ALERT_WEBHOOK_URL",
        "alert_webhook_url",
        _url,
        "also POST alerts to this URL in Alertmanager's webhook payload format",
    ),
    EnvVar(
        "FORESIGHT_RISK_MODEL",
        "risk_model",
        _text,
        "a failure-risk model directory (from `main.py risk-train`) for /api/risk/predict "
        "and the live failure probability",
    ),
    EnvVar(
        "FORESIGHT_DB_PROBE_URL",
        "db_probe_url",
        _sql_url,
        "SQLAlchemy URL of your database (e.g. `mysql+pymysql://user:pass@host/db`); its "
        "`SELECT 1` is timed each tick as `db_probe_ms` (failures: `db_probe_success` 0 "
        "and a health reason)",
    ),
    EnvVar(
        "FORESIGHT_CONNECTIONS_PORT",
        "connections_port",
        _number(0, 65535, int),
        "TCP port whose connections are counted by state (`active_connections`, "
        "`connections_established`, ...); default the monitor's own port, 0: off",
    ),
    EnvVar(
        "FORESIGHT_CONNECTIONS_EVERY_S",
        "connections_every_s",
        _number(1.0, 3600.0),
        "seconds between connection counts (each costs 13–20 ms of CPU; repeated in between)",
    ),
    EnvVar(
        "FORESIGHT_SQL_URL",
        "sql_url",
        _sql_url,
        "SQLAlchemy URL of the `--source sql` table's database (`--sql-url` wins; the "
        "environment keeps a password out of `ps`)",
    ),
    EnvVar(
        "FORESIGHT_PROMETHEUS_CATCHUP_S",
        "prometheus_catchup_s",
        _number(0, 90 * 86400.0),
        "`--source prometheus`: seconds of history read at start and after an outage",
    ),
    EnvVar(
        "FORESIGHT_PROMETHEUS_TIMEOUT_S",
        "prometheus_timeout_s",
        _number(0.05, 300.0),
        "`--source prometheus`: seconds one request may take (at most 80 % of the interval)",
    ),
    EnvVar(
        "FORECAST_BUDGET_S",
        "forecast_budget_s",
        _number(0.1, 3600.0),
        "seconds of refitting one job run may take (raise it for many series)",
    ),
    EnvVar(
        "FORECAST_REFIT_CORE_SHARE",
        "forecast_refit_core_share",
        _number(0.01, 64.0),
        "share of one core refits may use (fit worker and history reads); with many "
        "series the stalest models are refit first, the others keep their fitted model "
        "and are re-anchored every job run",
    ),
    EnvVar(
        "FIT_TIMEOUT_S",
        "fit_timeout_s",
        _number(1.0, 86400.0),
        "seconds a fit worker may go without answering while fits wait; then it is killed "
        "and the fits retried",
    ),
    EnvVar(
        "FORESIGHT_LSTM",
        "forecast_lstm",
        _flag,
        "1: add the seeds' LSTM to the live candidates (needs the lstm extra, "
        "`pip install -e .[lstm]`; the `--lstm` flag also sets it); trained only in the fit "
        "worker, served with numpy",
    ),
    EnvVar(
        "FORECAST_LSTM_REFIT_S",
        "forecast_lstm_refit_s",
        _number(600.0, 30 * 86_400.0),
        "with the LSTM on: seconds between LSTM rounds of one model (a selection with the "
        "LSTM among the candidates; a served LSTM is kept, and re-anchored, until its next)",
    ),
    EnvVar(
        "FORECAST_LSTM_CPU_S_PER_MIN",
        "forecast_lstm_cpu_s_per_min",
        _number(0.01, 60.0),
        "with the LSTM on: fit-worker CPU-seconds per minute that LSTM rounds may use on "
        "average (one round at a time; the next waits until the last one is paid for)",
    ),
    EnvVar(
        "FORECAST_REFIT_STEPS",
        "forecast_refit_steps",
        _number(0.0, 10_000.0),
        "a kept choice is refit once its tier has this many new buckets (and "
        "FORECAST_REFIT_S has passed): the 1-hour tier every 30 min; a model whose live "
        "80 % band holds under 65 % of its actuals is chosen afresh sooner, and every "
        "choice is made afresh hourly (12 buckets on the slower tiers); 0: refit every "
        "FORECAST_REFIT_S",
    ),
)

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
        if raw is not None and (raw.strip() != "" or (raw and var.parse is _token)):
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
