"""The environment variables: ``ENVIRONMENT``, one ``EnvVar`` row per variable, with the
Settings field it sets, its parser and its meaning.

It is the single list of variables: ``foresight.core.settings.from_environment`` reads
them, and a test checks the README's environment table against it. A new variable is one
more row (and a line in the README's table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from foresight.core import env_parsers

# The rows name the parsers by the short private names they had when the table lived in
# settings.py, so a row reads (and can be carried over) the same in either place.
_choice = env_parsers.choice
_file = env_parsers.existing_file
_flag = env_parsers.flag
_host_names = env_parsers.host_names
_number = env_parsers.number
_url = env_parsers.parse_url
_series_key = env_parsers.series_key
_signal_names = env_parsers.signal_names
_sql_url = env_parsers.sql_url
_text = env_parsers.text
_token = env_parsers.token

MIN_INTERVAL_S = 0.05  # psutil and SQLite cannot keep a faster beat honestly
MAX_INTERVAL_S = 3600.0
POLICY_NAMES = ("threshold", "reactive", "predictive", "hybrid")
# Where samples come from (``--source``): this host, or Prometheus' HTTP API.
SOURCE_NAMES = ("local", "prometheus", "sql")
MODE_NAMES = ("auto", "dry-run", "paused")


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
        "seconds between connection counts (each reads a line per TCP socket of the host; "
        "repeated in between)",
    ),
    EnvVar(
        "FORESIGHT_PROBE_EVERY_S",
        "probe_every_s",
        _number(0.0, 3600.0),
        "seconds between HTTP probes (at most the interval: every tick); default 5 for the "
        "own health endpoint, every tick for `FORESIGHT_PROBE_URL`; rules and `current` "
        "read the last probe in between",
    ),
    EnvVar(
        "FORESIGHT_MALLOC_ARENAS",
        "malloc_arenas",
        _number(0, 1024, int),
        "`--monitor` on glibc: most malloc arenas the monitor may use (`mallopt(M_ARENA_MAX)`, "
        "set at start); 1 keeps RSS about 25 MB lower than glibc's 8 per core; 0: glibc's "
        "default; `MALLOC_ARENA_MAX`, when set, wins",
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
