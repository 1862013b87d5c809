"""A real MariaDB for the SQL tests: one server for the session (``mariadb``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sources.mariadb_support import MariaDB


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A private mariadbd (own datadir, free loopback port), stopped after the session."""
    server = MariaDB(tmp_path_factory.mktemp("mariadb"))
    server.start()
    yield server
    server.stop()
