"""limit_arenas: threads that allocate share one malloc arena after limit_arenas(1).

Each case runs in a fresh interpreter (an arena a thread already has is kept, and the
test runner's own threads have theirs); glibc's malloc_info() lists the arenas.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from foresight.host import malloc

pytestmark = pytest.mark.skipif(malloc._libc() is None, reason="needs glibc's mallopt")

PROGRAM = r"""
import ctypes, os, sys, tempfile, threading
from foresight.host.malloc import limit_arenas

applied = limit_arenas(int(sys.argv[1]))
held, ready = [], threading.Barrier(7)

def work():
    held.append([bytearray(20_000) for _ in range(50)])  # malloc'd (not pymalloc, not mmap)
    ready.wait()

threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
ready.wait()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
path = tempfile.mktemp()
fp = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, fp)
libc.fclose(fp)
with open(path) as f:
    print(applied, f.read().count("<heap nr="))
os.unlink(path)
for t in threads:
    t.join()
"""


def arenas_after(limit: int, env: dict[str, str] | None = None) -> tuple[bool, int]:
    import os

    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    environ.update(env or {})
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(limit)],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
        timeout=60,
    ).stdout.split()
    return out[0] == "True", int(out[1])


def test_one_arena_for_every_thread():
    assert arenas_after(1) == (True, 1)


def test_zero_leaves_glibc_default_arena_per_thread():
    applied, arenas = arenas_after(0)
    assert not applied
    assert arenas > 1  # the six threads got arenas of their own


def test_malloc_arena_max_in_the_environment_wins():
    applied, arenas = arenas_after(1, {"MALLOC_ARENA_MAX": "3"})
    assert not applied
    assert arenas == 3
