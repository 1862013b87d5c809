"""``main.py --monitor``: build the services, serve the dashboard with waitress, sample."""

from __future__ import annotations

import argparse
import logging
import signal

from foresight.cli import source_args, sources
from foresight.core.errors import InputError
from foresight.core.settings import Settings, from_environment
from foresight.host.malloc import limit_arenas
from foresight.live import alerting as live_alerts
from foresight.live.lstm_rounds import require_lstm
from foresight.live.services import build_services, default_probe_url, start, stop
from foresight.web.security import SERVER_MAX_BODY_BYTES, SERVER_MAX_HEADER_BYTES
from metrics_collector import MetricsCollector

logger = logging.getLogger(__name__)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Resolve Settings: flags first, then the environment, then defaults."""
    url = getattr(args, "sql_url", None)
    if url:
        from foresight.core.sql_engine import sql_url  # SQLAlchemy: only when used

        url = sql_url(url, "--sql-url")
    return from_environment(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        interval_s=getattr(args, "interval", None),
        data_dir=getattr(args, "data_dir", None),
        retention_days=getattr(args, "retention_days", None),
        sql_url=url or None,
        forecast_lstm=True if getattr(args, "lstm", False) else None,
        **sources.settings_flags(args),
    )


class _Stop(SystemExit):
    """Raised by the SIGTERM handler to leave the server loop. A SystemExit, because
    waitress's channel handlers log any Exception and carry on: a SIGTERM arriving while a
    response was being written was swallowed there and the monitor kept running."""


def run(args: argparse.Namespace) -> int:
    """Sample this host and serve the dashboard with waitress until Ctrl-C or SIGTERM."""
    import waitress

    from dashboard import create_app

    settings = settings_from_args(args)
    # before any thread of ours starts: a thread keeps the arena it first allocated from
    limit_arenas(settings.malloc_arenas)
    if settings.live_models and settings.forecast_lstm:  # before anything is opened
        require_lstm("--lstm" if getattr(args, "lstm", False) else "FORESIGHT_LSTM=1")
    if not getattr(args, "verbose", False):
        # APScheduler logs every run (and each job it adds) at INFO: once a second is
        # noise, not news; we log our own one-line summary of what was started.
        for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)
    source = source_args.source_factory(args, settings)
    services = build_services(settings, source=source)
    try:
        app = create_app(services=services)
        try:
            server = waitress.create_server(
                app,
                host=settings.host,
                port=settings.port,
                threads=8,
                ident="foresight",
                # waitress buffers a whole body before the app sees it (up to 1 GiB by
                # default): refuse bigger ones while reading, above the app's own limit
                max_request_body_size=SERVER_MAX_BODY_BYTES,
                max_request_header_size=SERVER_MAX_HEADER_BYTES,
            )
        except OSError as exc:  # port in use, address not on this host, ...
            raise InputError(
                f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
            ) from None
        # waitress reports the bound port as getnameinfo()'s text ("5000"): an int, so
        # the connection counter's port comparison (psutil gives ints) can match.
        port = int(getattr(server, "effective_port", settings.port))
        if isinstance(services.collector, MetricsCollector):  # this host: probe ourselves
            if settings.probe_url is None:
                services.collector.probe_url = default_probe_url(settings, port)
            if settings.connections_port is None:
                services.collector.connections_port = port or None

        def on_term(signum: int, frame: object) -> None:
            raise _Stop()

        previous = signal.signal(signal.SIGTERM, on_term)
        alerts = services.extras.get(live_alerts.EXTRAS_KEY)
        if alerts is not None and hasattr(signal, "SIGHUP"):  # SIGHUP reloads the rules
            signal.signal(signal.SIGHUP, lambda signum, frame: alerts.engine.rules.request_reload())
        start(services)
        print(
            f"Foresight dashboard on http://{settings.host}:{port}/ "
            f"(API docs /api/docs, metrics /metrics); Ctrl-C stops",
            flush=True,
        )
        try:
            server.run()  # also returns when waitress caught the _Stop (a SystemExit) itself
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            logger.info("stopping")
            signal.signal(signal.SIGTERM, previous)
            server.close()
    finally:
        stop(services)
    return 0
