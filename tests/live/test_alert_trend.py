"""The live exhaustion rules' trend is fitted once per cached history read (not once a
tick), and is always the fit of the history the rule would read itself."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.alerts.conditions import linear_trend
from foresight.live.alerting import EXTRAS_KEY, SERIES_CACHE_S
from foresight.live.alerting import install as install_alerts


def test_the_trend_is_the_fit_of_the_cached_history_and_follows_it(services):
    live = services.extras.get(EXTRAS_KEY) or install_alerts(services)
    t0 = SERIES_CACHE_S * np.floor(1_800_000_000.0 / SERIES_CACHE_S)
    for i in range(600):
        services.store.append(t0 - 3600 + 6.0 * i, {"disk_percent": 50.0 + 0.001 * i})
    now, window = t0 + 1.0, 3600.0
    fitted = live._trend("disk_percent", now - window, now)
    assert fitted == linear_trend(*live._read_series("disk_percent", now - window, now))
    assert fitted is not None and fitted[0] == pytest.approx(0.001 / 6.0, rel=1e-3)  # bucket means
    # within the cache minute the same fit is served; new history after it is read again
    services.store.append(now + 1.0, {"disk_percent": 80.0})
    assert live._trend("disk_percent", now + 5 - window, now + 5) == fitted
    later = now + SERIES_CACHE_S
    moved = live._trend("disk_percent", later - window, later)
    assert moved == linear_trend(*live._read_series("disk_percent", later - window, later))
    assert moved != fitted
