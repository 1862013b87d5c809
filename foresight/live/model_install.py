"""Install the live models in ``--monitor``: the anomaly stage and the scheduled model job.

``build_services`` calls ``install`` when live models are on (``FORESIGHT_LIVE_MODELS``).
With ``FORESIGHT_LSTM=1`` (or ``--lstm``) the LSTM joins the candidates on its own cadence
and CPU budget (``lstm_rounds``); Keras and JAX must be installed (the lstm extra), or this
raises ``InputError`` before anything starts.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from foresight.live.lstm_rounds import LstmRounds, require_lstm
from foresight.live.models import EPISODE_GAP_SAMPLES, EXTRAS_KEY, LiveModels, make_fit_worker


def install(services) -> None:
    """Add the anomaly stage and the scheduled model job to ``services`` (a ``Services``)."""
    settings = services.settings
    lstm = None
    if settings.forecast_lstm:
        require_lstm("FORESIGHT_LSTM=1")
        lstm = LstmRounds(settings.forecast_lstm_refit_s, settings.forecast_lstm_cpu_s_per_min)
    live = LiveModels(
        services.store,
        services.known_metrics,
        refit_every_s=settings.forecast_refit_s,
        budget_s=settings.forecast_budget_s,
        data_dir=settings.data_dir,
        warm_s=2000 * settings.interval_s,  # the likelihood's long window
        worker=make_fit_worker(settings.fit_timeout_s, settings.data_dir),
        # The detector counts samples, so the tracker does too (60 s at 1-s sampling).
        episode_gap_s=EPISODE_GAP_SAMPLES * settings.interval_s,
        refit_core_share=settings.forecast_refit_core_share,
        lstm=lstm,
        refit_steps=settings.forecast_refit_steps,
    )
    services.extras[EXTRAS_KEY] = live
    services.closers.append(live.close)
    services.stages.append(live.stage)
    job = services.scheduler.add_job(
        lambda: live.run(time.time()),
        "interval",
        seconds=settings.forecast_job_s,
        id="foresight-forecasts",
        name="refit and forecast",
        max_instances=1,
        coalesce=True,
    )

    def wakeup() -> None:
        if services.scheduler.running:
            job.modify(next_run_time=datetime.now(UTC))

    live.wakeup = wakeup
