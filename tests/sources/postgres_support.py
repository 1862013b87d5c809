"""A private, real PostgreSQL server for the SQL tests (Debian's ``postgresql``).

``Postgres(tmp)`` initialises its own cluster with ``initdb`` (superuser ``foresight``,
password auth over TCP), then ``start()`` runs ``postgres`` on a free loopback port with
its unix socket in the same directory, creates the ``seed`` database and waits until
psycopg can log in. ``stop()`` ends it with SIGINT (a "fast" shutdown: clients are
disconnected, as a real outage would; "smart" SIGTERM would wait for the monitor's pooled
connection to go away); ``start()`` again restarts it on the same port. ``close()`` stops it and, when
the tests run as root, removes the private directory described below.

The server runs in the ``Asia/Kolkata`` zone (+05:30, a half-hour offset with no DST) so
a reader that mixes up UTC and the session's zone gets visibly wrong times, and it loads
``pg_stat_statements`` so a test can count the statements that reached it.

PostgreSQL refuses to run as root. As root, the cluster lives in a fresh directory owned
by Debian's ``postgres`` user (pytest's tmp dirs are 0700 root, so that user could not
reach one), and both ``initdb`` and ``postgres`` run as that user. ``make test`` installs
the package when missing; without its binaries the tests skip, saying so.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.sources.mariadb_support import _free_port, stop_server, wait_for_logins

USER, PASSWORD, DATABASE = "foresight", "foresight-test-pw", "seed"
SERVER_ZONE = "Asia/Kolkata"
DEBIAN_ROOT = Path("/usr/lib/postgresql")


def bin_dir() -> Path:
    """Debian's newest ``/usr/lib/postgresql/<ver>/bin`` with a ``postgres`` (else skip)."""
    versions = sorted(
        (p for p in DEBIAN_ROOT.glob("*/bin") if os.access(p / "postgres", os.X_OK)),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    pytest.skip(
        f"postgres not found in {DEBIAN_ROOT}/<ver>/bin nor on PATH: install Debian's "
        "postgresql (make test does)"
    )


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root (None: ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip("running as root and neither a 'postgres' nor a 'nobody' account exists")


class Postgres:
    """One ``postgres`` with its own cluster; ``url`` is its SQLAlchemy URL."""

    def __init__(self, root: Path) -> None:
        self._bin = bin_dir()
        self._account = _run_as()
        self._private = self._account is not None
        if self._account is not None:
            root = Path(tempfile.mkdtemp(prefix="foresight-pg-"))
            os.chown(root, self._account.pw_uid, self._account.pw_gid)
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.datadir = root / "data"
        self.port = _free_port()
        self.log = root / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        pwfile = root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        self._own(pwfile)
        done = subprocess.run(
            [
                str(self._bin / "initdb"),
                f"--pgdata={self.datadir}",
                f"--username={USER}",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            **self._as_account(),
        )
        pwfile.unlink()
        if done.returncode != 0:
            self.close()
            pytest.fail(f"initdb failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def _as_account(self) -> dict[str, Any]:
        if self._account is None:
            return {}
        return {"user": self._account.pw_uid, "group": self._account.pw_gid, "extra_groups": []}

    def _own(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def start(self) -> None:
        """Start postgres, create the ``seed`` database once, wait until logins work."""
        import psycopg

        if not self.log.exists():
            self.log.touch()
            self._own(self.log)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(self._bin / "postgres"),
                    "-D",
                    str(self.datadir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"port={self.port}",
                    "-c",
                    f"unix_socket_directories={self.root}",
                    "-c",
                    f"timezone={SERVER_ZONE}",
                    "-c",
                    "shared_preload_libraries=pg_stat_statements",
                    "-c",
                    "fsync=off",
                    "-c",
                    "shared_buffers=16MB",
                    "-c",
                    "max_connections=40",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._as_account(),
            )
        wait_for_logins(
            self, "postgres", lambda: self._create_database(psycopg), psycopg.OperationalError
        )

    def _create_database(self, psycopg: Any) -> None:
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                return
            conn.execute(f"CREATE DATABASE {DATABASE}")
        with psycopg.connect(self._dsn(DATABASE), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def _dsn(self, database: str) -> str:
        return (
            f"host=127.0.0.1 port={self.port} user={USER} password={PASSWORD} "
            f"dbname={database} connect_timeout=2"
        )

    def stop(self) -> None:
        """SIGINT (a fast, clean shutdown), then SIGKILL after 30 s."""
        stop_server(self.proc, signal.SIGINT)

    def close(self) -> None:
        """Stop the server; as root, also remove its private directory."""
        self.stop()
        if self._private:
            shutil.rmtree(self.root, ignore_errors=True)

    def connect(self) -> Any:
        """A psycopg connection as ``foresight`` to the ``seed`` database (not autocommit)."""
        import psycopg

        return psycopg.connect(self._dsn(DATABASE))

    def execute(self, *statements: str, params: list[tuple] | None = None) -> None:
        """Run statements in one transaction (``params``: executemany for the last one)."""
        with self.connect() as conn, conn.cursor() as cur:
            for i, sql in enumerate(statements):
                if params is not None and i == len(statements) - 1:
                    cur.executemany(sql, params)
                else:
                    cur.execute(sql)

    def statements_run(self) -> int:
        """How many statements the server has completed (``pg_stat_statements`` calls)."""
        with self.connect() as conn:
            row = conn.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements").fetchone()
        return int(row[0])

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
