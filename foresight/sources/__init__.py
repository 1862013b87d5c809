"""Sources of samples besides this host's psutil collector (``metrics_collector``).

Each source has the collector's interface (``metrics_collector.Collector``): ``prime()``,
``collect(now) -> Sample``, ``take_backlog()``, ``problems(now)`` and ``close()``, so the
monitor's one cycle (``foresight.live.services.run_cycle``) stores, forecasts, scores and
alerts on its series unchanged. Series of other targets are keyed ``NAME@TARGET``
(``foresight.core.series``).

- ``prometheus``: ``PrometheusSource`` reads named PromQL queries through Prometheus'
  HTTP API (``query_range`` to catch up, ``query`` every tick).
- ``queries``: the ``--prometheus-query NAME=PROMQL`` flag and the TOML file of queries.
- ``prometheus_api``: the two HTTP calls, on ``requests``.
- ``sql``: ``SqlSource`` reads a table's new rows by timestamp through SQLAlchemy.
"""
