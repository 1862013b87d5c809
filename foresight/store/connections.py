"""One SQLite connection per thread to one database file, replaceable as a whole.

``Connections`` hands each thread its own connection (reads run concurrently under WAL;
``write_lock`` serialises writes) with the store's pragmas: WAL, ``synchronous=NORMAL``
and the checkpoint policy of ``foresight.store.faults`` (smaller on small filesystems).

It also knows which file it has open (device and inode), so ``change()`` notices a
deleted data dir or a replaced file with one ``stat``, and ``replace()`` opens the
file now at the path; every thread then gets a connection to it on its next ``get()``.

The connections to the lost file are retired, not closed at once: closing a connection
that another thread is reading from crashes the interpreter (a segfault in CPython's
sqlite3, seen with 4 reader threads), and even the owning thread may still hold it in
a caller's frame. A retired connection is closed as soon as nothing references it
(``sys.getrefcount``), which also frees the deleted file's disk space. The lost
file's -wal and -shm are unlinked first, so old connections never share the new
file's.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from foresight.store.faults import SQLITE_DEFAULT_WAL_PAGES, FileIdentity, wal_autocheckpoint_pages


class Connections:
    """Per-thread connections to ``path``; see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.write_lock = threading.Lock()
        self.wal_autocheckpoint_pages = SQLITE_DEFAULT_WAL_PAGES
        # thread ident -> (generation, connection); a reopen bumps the generation.
        self._by_thread: dict[int, tuple[int, sqlite3.Connection]] = {}
        self._retired: list[sqlite3.Connection] = []  # to the lost file, maybe in use
        self._own_refs: int | None = None  # references a connection holds to itself
        self._generation = 0
        self._replace_lock = threading.Lock()  # held while a replacement is being built
        self._closed = False
        self._opened = False  # the file has been created and prepared once
        self._identity: FileIdentity | None = None
        self._side_files: dict[Path, FileIdentity | None] = {}  # our -wal and -shm
        self._lost: str | None = None  # a change that a failed replace() has yet to mend

    def get(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use, and again after a replace)."""
        ident = threading.get_ident()
        entry = self._by_thread.get(ident)
        if entry is not None and entry[0] == self._generation:
            if self._retired and self._replace_lock.acquire(blocking=False):
                try:
                    self._reap()
                finally:
                    self._replace_lock.release()
            return entry[1]
        with self._replace_lock:
            if self._closed:
                raise RuntimeError(f"store {self.path} is closed")
            self._reap()
            # Once open, only replace() may create the file: a reader meeting a lost
            # file must fail, not leave an empty database that looks like the store.
            conn = self._connect(create=not self._opened)
            self._by_thread[ident] = (self._generation, conn)
            return conn

    def _reap(self) -> None:
        """Close the retired connections nothing references any more (holds the lock)."""
        keep = []
        for conn in self._retired:
            # References: its own (statement cache), the list, this loop variable and
            # getrefcount's argument. A frame or cursor still using it adds one.
            if sys.getrefcount(conn) <= (self._own_refs or 0) + 3:
                conn.close()
            else:
                keep.append(conn)
        self._retired = keep

    def _connect(self, create: bool = True) -> sqlite3.Connection:
        # isolation_level=None: the store issues BEGIN/COMMIT itself, one per batch.
        uri = f"{self.path.resolve().as_uri()}?mode={'rwc' if create else 'rw'}"
        conn = sqlite3.connect(
            uri, timeout=30.0, isolation_level=None, check_same_thread=False, uri=True
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = wal_autocheckpoint_pages(self.path.parent, page_size)
        self.wal_autocheckpoint_pages = pages
        conn.execute(f"PRAGMA wal_autocheckpoint={pages}")
        # When a checkpoint resets the WAL, truncate a WAL that grew past this size.
        conn.execute(f"PRAGMA journal_size_limit={pages * page_size}")
        if self._own_refs is None:  # measured: this local variable and the argument
            self._own_refs = sys.getrefcount(conn) - 2
        return conn

    def note_open_file(self) -> None:
        """Remember which files are open (call once the database has been written)."""
        self._opened = True
        self._identity = FileIdentity.of(self.path)
        self._side_files = {p: FileIdentity.of(p) for p in self._side_paths()}

    def _side_paths(self) -> tuple[Path, Path]:
        return Path(f"{self.path}-wal"), Path(f"{self.path}-shm")

    def change(self) -> str | None:
        """How the file at ``path`` differs from the one open (None: it is the same)."""
        if self._identity is None:
            return self._lost or f"the database file {self.path} could not be opened"
        change = self._identity.change_at(self.path)
        if change is not None:
            self._lost = change
        return change

    def replace(self, prepare: Callable[[sqlite3.Connection], None]) -> None:
        """Open the file at ``path`` (creating it and its directory if gone) and run
        ``prepare`` on it before any thread may use it; threads then switch to it.

        The caller must not hold ``write_lock``. Raises what opening or ``prepare``
        raises; ``change()`` then keeps reporting the loss, so a later call retries.
        """
        with self.write_lock, self._replace_lock:
            self._generation += 1  # every thread's next get() opens the new file
            self._retired.extend(conn for _, conn in self._by_thread.values())
            self._by_thread = {}
            # SQLite leaves a moved database's -wal/-shm in place; ours would be read
            # as the new file's and corrupt it, so unlink them (never someone else's).
            for side, ours in self._side_files.items():
                if ours is not None and FileIdentity.of(side) == ours:
                    side.unlink(missing_ok=True)
            self._identity, self._side_files = None, {}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            try:
                prepare(conn)
            except BaseException:
                conn.close()
                raise
            self._by_thread[threading.get_ident()] = (self._generation, conn)
            self.note_open_file()
            self._reap()
            self._lost = None

    def close(self) -> None:
        """Close every connection (from any thread); later use raises RuntimeError."""
        with self._replace_lock:
            self._closed = True
            conns = [conn for _, conn in self._by_thread.values()] + self._retired
            self._by_thread, self._retired = {}, []
        for conn in conns:
            conn.close()
