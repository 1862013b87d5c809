"""glibc malloc tuning for the long-running monitor: how many malloc arenas it may use.

glibc gives a thread that finds the main arena busy an arena of its own (up to 8 per
core), and memory freed in an arena stays there for that arena's next allocations: each
arena keeps the high-water mark of what its threads once held. The monitor's threads
(the sampler, the scheduler's jobs, waitress's workers, the store's writer) each held
tens of MB for a moment (a history read, a refit's arrays, a JSON body), so with an
arena each the monitor kept several such peaks at once. Measured with the full monitor
at 1 s on a 6-hour seeded store, 240 s after start: peak RSS 149 MB with glibc's
default, 121 MB with one arena (``MALLOC_ARENA_MAX=1``), the same CPU. Python's own
small objects come from pymalloc under the interpreter lock, so one arena costs no
lock contention worth the name.

``limit_arenas(n)`` is ``mallopt(M_ARENA_MAX, n)``, the same as ``MALLOC_ARENA_MAX=n``
in the environment; call it before the monitor starts its threads (an arena a thread
already has is kept). Elsewhere than glibc it does nothing and says so.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the symbols this process already has: its own libc
    except OSError:
        return None
    # gnu_get_libc_version: glibc's own (musl has a mallopt that ignores M_ARENA_MAX)
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return None
    return libc


def limit_arenas(arenas: int) -> bool:
    """Let malloc use at most ``arenas`` arenas from now on; False if not applied.

    ``arenas`` ≤ 0 leaves glibc's default (8 per core) alone, and so does a
    ``MALLOC_ARENA_MAX`` in the environment (glibc has applied it: the operator's choice).
    """
    if arenas <= 0 or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _libc()
    if libc is None:
        logger.debug("not glibc: the malloc arena limit is not applied")
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    return bool(libc.mallopt(M_ARENA_MAX, int(arenas)))
