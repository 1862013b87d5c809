"""Sources of samples besides this host's psutil collector (``metrics_collector``).

Each source has the collector's interface (``metrics_collector.Collector``): ``prime()``,
``collect(now) -> Sample``, ``take_backlog()``, ``problems(now)`` and ``close()``, so the
whole live pipeline (store, forecasts, anomalies, alerts, scaling) runs on it unchanged.
"""
