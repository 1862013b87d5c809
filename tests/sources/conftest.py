"""Real database servers for the SQL tests: one of each for the session.

``mariadb`` is a private mariadbd, ``postgres`` a private PostgreSQL cluster; each has its
own data directory and free loopback port and is stopped after the session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sources.mariadb_support import MariaDB
from tests.sources.postgres_support import Postgres


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A private mariadbd (own datadir, free loopback port), stopped after the session."""
    server = MariaDB(tmp_path_factory.mktemp("mariadb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """A private PostgreSQL (own cluster, free loopback port), stopped after the session."""
    server = Postgres(tmp_path_factory.mktemp("postgres"))
    try:
        server.start()
        yield server
    finally:
        server.close()
