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


# -- a tiny real filesystem (issue 13, faults): disk full and WAL growth ----------------------
class TinyFilesystem:
    """A tmpfs of ``size`` mounted at ``path``; ``fill()`` takes every free byte."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        self.size = size
        self.filler = path / "filler.bin"

    def fill(self) -> int:
        """Write ``filler.bin`` until the filesystem is full; return bytes written."""
        import os

        written = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
                try:
                    while True:
                        written += os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != 28:  # ENOSPC is the point; anything else is a failure
                        raise
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        """Give the space back (delete the filler)."""
        self.filler.unlink(missing_ok=True)


def mount_tmpfs(path: Path, size: str) -> TinyFilesystem:
    """Mount a tmpfs of ``size`` (e.g. "2m") at ``path``; skip the test when not permitted."""
    import subprocess

    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot run mount to make a {size} tmpfs ({exc}): needs root")
    if done.returncode != 0:
        pytest.skip(
            f"mounting a {size} tmpfs at {path} is not permitted here "
            f"({done.stderr.strip() or done.returncode}): run the suite as root to test "
            "disk-full handling"
        )
    return TinyFilesystem(path, size)


def unmount(fs: TinyFilesystem) -> None:
    import subprocess

    # -l: a process that still holds a file open (a killed server) must not leak the mount.
    subprocess.run(["umount", "-l", str(fs.path)], capture_output=True, timeout=10, check=False)


@pytest.fixture
def tiny_fs(tmp_path: Path):
    """A real 2 MB tmpfs at ``tmp_path / "data"`` (unmounted afterwards)."""
    fs = mount_tmpfs(tmp_path / "data", "2m")
    yield fs
    unmount(fs)
