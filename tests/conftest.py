"""Shared fixtures: paths to the shared real data, and a skip when it is absent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def shared_data() -> Path:
    """The shared real datasets; skips the test with a clear message when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"shared data folder not found at {SHARED_DATA} "
            "(benchmarks and data tests need ../shared/data)"
        )
    return SHARED_DATA


# -- live monitor fixtures (issue 2): a real store in tmp_path, a fake clock ---------------
class FakeClock:
    """A clock the test moves by hand; pass ``clock()`` as ``now``."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path):
    """An empty MetricStore in tmp_path (closed afterwards)."""
    from foresight.store.metric_store import MetricStore

    with MetricStore(tmp_path / "store" / "foresight.db") as s:
        yield s


@pytest.fixture
def services(tmp_path: Path, clock: FakeClock):
    """Monitor services on a tmp data dir: real store and psutil collector, no HTTP
    probe, scheduler not started, the API reading time from ``clock``."""
    from foresight.core.settings import Settings
    from foresight.live.services import build_services, stop

    svc = build_services(Settings(data_dir=tmp_path / "data"), now=clock())
    svc.clock = clock
    yield svc
    stop(svc)


@pytest.fixture
def app(services):
    from dashboard import create_app

    return create_app({"TESTING": True}, services=services)


@pytest.fixture
def client(app):
    return app.test_client()
