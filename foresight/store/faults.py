"""What the store does about faults: a full disk, a tiny filesystem, a lost file.

- ``wal_autocheckpoint_pages``: the WAL checkpoint policy. SQLite checkpoints after
  1,000 pages (~4 MB); on a filesystem smaller than ~128 MB that is too much (on 2 MB
  the WAL filled the disk and never checkpointed), so there the WAL is kept under 1/32
  of the filesystem.
- ``FileIdentity``: which file is open (device and inode), so a deleted data dir or a
  replaced database is noticed with one ``stat`` per tick.
- ``StoreFaults``: the sampler's record of failed writes for ``/api/system/health``
  (error text, since when, how many samples were not stored), logging one line when a
  fault starts, a summary now and then while it lasts, and one line when it clears.

Time is passed in (epoch seconds).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SQLITE_DEFAULT_WAL_PAGES = 1000
MIN_WAL_PAGES = 32
WAL_SHARE_OF_FILESYSTEM = 32  # the WAL may use at most 1/32 of a small filesystem
SUMMARY_EVERY_S = 60.0  # while a fault lasts, one summary line per this many seconds


def wal_autocheckpoint_pages(directory: Path, page_size: int) -> int:
    """Pages the WAL may hold before SQLite checkpoints it, for a store in ``directory``.

    SQLite's default (1,000) on any filesystem of ~128 MB or more; below that, 1/32 of
    the filesystem (at least 32 pages), so the WAL can never be what fills it.
    """
    try:
        fs = os.statvfs(directory)
    except OSError:  # not there yet or not a real filesystem: keep SQLite's default
        return SQLITE_DEFAULT_WAL_PAGES
    total_bytes = fs.f_frsize * fs.f_blocks
    if total_bytes <= 0:
        return SQLITE_DEFAULT_WAL_PAGES
    pages = total_bytes // (WAL_SHARE_OF_FILESYSTEM * max(page_size, 512))
    return int(min(SQLITE_DEFAULT_WAL_PAGES, max(MIN_WAL_PAGES, pages)))


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """The device and inode of a file: equal identities are the same file."""

    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        """The identity of ``path`` now; None when nothing is there."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(st.st_dev, st.st_ino)

    def change_at(self, path: Path) -> str | None:
        """Say how ``path`` no longer names this file (None: it still does)."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is not None and st.st_ino == self.inode and st.st_dev == self.device:
            return None  # the every-tick case: one stat, no allocation
        if st is None:
            where = "its directory" if not path.parent.exists() else "the file"
            return f"the database file {path} was deleted ({where} is gone)"
        return f"the database file {path} was replaced by another file"


def free_space_note(path: Path, below_bytes: int = 1 << 20) -> str:
    """A note for error messages: its filesystem's free bytes when under ``below_bytes``."""
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return ""
    return f"; its filesystem has {free} bytes free" if free < below_bytes else ""


def error_text(exc: BaseException) -> str:
    """A one-line description of a store error (the message users would search for)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def error_code(exc: BaseException) -> str | None:
    """SQLite's error name (``SQLITE_FULL``) or the errno name (``ENOSPC``), if known."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorname", None)
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno.errorcode.get(exc.errno)
    return None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class StoreFaults:
    """Failed sampler writes and reopened files, for the log and the health payload.

    Thread-safe: the sampler records, request threads read ``to_dict``.
    """

    def __init__(self, summary_every_s: float = SUMMARY_EVERY_S) -> None:
        self.summary_every_s = summary_every_s
        self.error: str | None = None
        self.code: str | None = None
        self.since: float | None = None
        self.not_stored = 0  # samples not stored during the current fault
        self.failed_writes = 0  # this run, every fault
        self.last_fault: dict[str, Any] | None = None
        self._summary_at = 0.0
        self._summary_count = 0
        self._seen: set[str] = set()  # error texts already logged during this fault
        self._lock = threading.Lock()

    def failed(self, now: float, exc: BaseException) -> None:
        """Record a failed tick: log an error not yet seen in this fault, else summarise
        now and then (errors that alternate are each logged once, too)."""
        text, code = error_text(exc), error_code(exc)
        with self._lock:
            self.failed_writes += 1
            if self.error is None:  # a new fault
                self.since, self.not_stored, self._seen = now, 0, set()
                self._summary_at, self._summary_count = now, 0
            self.error, self.code = text, code
            if text not in self._seen:
                self._seen.add(text)
                logger.error(
                    "store write failed: %s; samples stay in the live view but are not "
                    "stored until this clears (repeats are summarised every %.0f s)",
                    text,
                    self.summary_every_s,
                )
            self.not_stored += 1
            self._summary_count += 1
            if now - self._summary_at >= self.summary_every_s:
                logger.error(
                    "store writes still failing: %s (%d samples not stored in the last "
                    "%.0f s, %d since %s)",
                    text,
                    self._summary_count,
                    now - self._summary_at,
                    self.not_stored,
                    _iso(self.since or now),
                )
                self._summary_at, self._summary_count = now, 0

    def succeeded(self, now: float) -> None:
        """Record a stored tick; when a fault was open, log that it cleared."""
        if self.error is None:  # the common case: no lock, no work
            return
        with self._lock:
            if self.error is None:
                return
            logger.warning(
                "store writes resumed: %d samples were not stored over %.0f s (%s)",
                self.not_stored,
                now - (self.since or now),
                self.error,
            )
            self._close_fault(now)

    def reopened(self, now: float, change: str) -> None:
        """Record that the database file was lost and another one opened at ``now``."""
        with self._lock:
            not_stored = self.not_stored if self.error is not None else 0
            if self.error is not None:  # the reopen ends a fault (a replaced file, ...)
                logger.warning(
                    "store writes resume in the reopened file: %d samples were not stored",
                    not_stored,
                )
            self.last_fault = {
                "error": change,
                "code": "REOPENED",
                "since": self.since if self.since is not None else now,
                "until": now,
                "not_stored": not_stored,
            }
            self.error, self.code, self.since, self.not_stored = None, None, None, 0

    def _close_fault(self, now: float) -> None:
        self.last_fault = {
            "error": self.error,
            "code": self.code,
            "since": self.since,
            "until": now,
            "not_stored": self.not_stored,
        }
        self.error, self.code, self.since, self.not_stored = None, None, None, 0

    def to_dict(self) -> dict[str, Any]:
        """The ``store`` keys of the health payload: ok, error, code, since, counts."""
        with self._lock:
            return {
                "ok": self.error is None,
                "error": self.error,
                "code": self.code,
                "since": self.since,
                "not_stored": self.not_stored,
                "failed_writes": self.failed_writes,
                "last_fault": None if self.last_fault is None else dict(self.last_fault),
            }
