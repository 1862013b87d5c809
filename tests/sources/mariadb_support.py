"""A private, real MariaDB server for the SQL tests (Debian's ``mariadb-server``).

``MariaDB(tmp)`` initialises its own datadir with ``mariadb-install-db``, then ``start()``
runs ``mariadbd`` on a free loopback port (and a unix socket in the datadir), creates the
``foresight`` user and ``seed`` database through an init file, and waits until PyMySQL can
log in. ``stop()`` ends it with SIGTERM. ``make test`` installs the package when missing;
without it the tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 60.0
USER, PASSWORD, DATABASE = "foresight", "foresight-test-pw", "seed"


def stop_server(proc: subprocess.Popen | None, sig: signal.Signals) -> None:
    """Send ``sig`` (the server's clean shutdown), then SIGKILL after 30 s; None or an
    exited process is left as it is."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_for_logins(
    server: Any, name: str, login: Callable[[], None], refused: type[BaseException]
) -> None:
    """Call ``login`` until it stops raising ``refused``; fail the test with the server's
    log tail if ``server.proc`` exits or START_TIMEOUT_S passes (then stop it)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.proc.poll() is not None:
            pytest.fail(f"{name} exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            login()
            return
        except refused:
            if time.monotonic() > deadline:
                server.stop()
                pytest.fail(f"{name} did not accept logins in time:\n{server.log_tail()}")
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip(f"{name} not found: install Debian's mariadb-server (make test does)")


class MariaDB:
    """One mariadbd with its own datadir under ``root``; ``url`` is its SQLAlchemy URL."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.datadir = root / "datadir"
        self.port = _free_port()
        self.socket = root / "mysqld.sock"
        self.log = root / "error.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._as_root = ["--user=root"] if os.geteuid() == 0 else []
        install = _binary("mariadb-install-db")
        self._server = _binary("mariadbd")
        root.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                *self._as_root,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            pytest.fail(f"mariadb-install-db failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        self.init_file = root / "init.sql"
        self.init_file.write_text(
            f"CREATE DATABASE IF NOT EXISTS {DATABASE};\n"
            f"CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';\n"
            f"GRANT ALL ON *.* TO '{USER}'@'127.0.0.1';\n"
        )

    @property
    def url(self) -> str:
        return f"mysql+pymysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> None:
        """Start mariadbd and wait until the test user can log in."""
        import pymysql

        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    self._server,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    f"--socket={self.socket}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--pid-file={self.root / 'mysqld.pid'}",
                    f"--init-file={self.init_file}",
                    "--skip-log-bin",
                    "--innodb-buffer-pool-size=32M",
                    "--performance-schema=OFF",
                    *self._as_root,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def login() -> None:
            pymysql.connect(
                host="127.0.0.1",
                port=self.port,
                user=USER,
                password=PASSWORD,
                database=DATABASE,
                connect_timeout=2,
            ).close()

        wait_for_logins(self, "mariadbd", login, pymysql.err.OperationalError)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL after 30 s."""
        stop_server(self.proc, signal.SIGTERM)

    def close(self) -> None:
        """Stop the server for good (its datadir is in pytest's tmp dir, left to pytest)."""
        self.stop()

    def connect(self) -> Any:
        """A PyMySQL connection as the test user to the ``seed`` database."""
        import pymysql

        return pymysql.connect(
            host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, database=DATABASE
        )

    def execute(self, *statements: str, params: list[tuple] | None = None) -> None:
        """Run statements as the test user (``params``: executemany for the last one)."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for i, sql in enumerate(statements):
                    if params is not None and i == len(statements) - 1:
                        cur.executemany(sql, params)
                    else:
                        cur.execute(sql)
            conn.commit()
        finally:
            conn.close()

    def statements_run(self) -> int:
        """How many statements the server has received (``SHOW GLOBAL STATUS 'Questions'``)."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
                return int(cur.fetchone()[1])
        finally:
            conn.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
