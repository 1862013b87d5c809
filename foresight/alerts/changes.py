"""Which alert episodes changed, so a client can ask for only those (``GET /api/alerts?cursor=``).

Every evaluation that changes or forgets episodes bumps a revision and remembers their ids.
A cursor names a revision of one engine's life (``<epoch>-<revision>``): the epoch is
drawn at start, so a cursor from before a restart (or one so old that its revisions are
no longer kept) is answered with the whole list instead of a wrong "nothing changed".
Revisions, not timestamps: two evaluations (the sampling cycle, the stale watchdog) may
run with ``now`` values out of order, and a timestamp cursor would skip one of them.
"""

from __future__ import annotations

import re
import secrets
from collections import deque
from collections.abc import Iterable

from foresight.core.errors import InputError

KEEP_REVISIONS = 4096  # ~1 h of 1-s evaluations; an older cursor gets the whole list
_CURSOR = re.compile(r"([0-9a-f]{1,32})-([0-9]{1,18})")


class ChangeLog:
    """Revisions of changed alert ids; not thread-safe (the engine holds its lock)."""

    def __init__(self, keep: int = KEEP_REVISIONS, epoch: str | None = None) -> None:
        self.epoch = epoch or secrets.token_hex(4)
        self.revision = 0
        self._log: deque[tuple[int, frozenset[int]]] = deque(maxlen=keep)

    def record(self, ids: Iterable[int | None]) -> None:
        changed = frozenset(i for i in ids if i is not None)
        if changed:
            self.revision += 1
            self._log.append((self.revision, changed))

    def cursor(self) -> str:
        return f"{self.epoch}-{self.revision}"

    def since(self, cursor: str) -> frozenset[int] | None:
        """Ids changed after ``cursor``; None when it is of another life or too old."""
        match = _CURSOR.fullmatch(cursor)
        if match is None:
            raise InputError(f"cursor must be the cursor of an earlier answer (got {cursor!r})")
        epoch, revision = match.group(1), int(match.group(2))
        if epoch != self.epoch or revision > self.revision:
            return None
        oldest = self._log[0][0] if self._log else self.revision + 1
        if revision < oldest - 1:
            return None
        out: set[int] = set()
        for rev, ids in reversed(self._log):
            if rev <= revision:
                break
            out |= ids
        return frozenset(out)
