"""Write an output file so that readers see the old version or the whole new one, never half.

``--out``, ``--report`` and ``export --out`` all go through ``atomic_text_writer``:

- a regular file (or a path that does not exist yet) is written to a temp file in the
  same folder, flushed and fsynced, renamed over the target, and the folder is fsynced;
- a symlink is followed: its final target gets the content, the link stays a link;
- a character device (``/dev/null``, ``/dev/full``, a terminal), a FIFO, ``-`` (stdout)
  and an already-open descriptor (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``)
  are written straight through, never replaced — they cannot be "half-written" in any
  useful sense, and replacing ``/dev/full`` with a CSV is what this module exists to avoid;
- a directory, a block device or a socket is refused with an ``InputError``.

Every failure (``OSError`` from the disk, ``KeyboardInterrupt``, an error from the caller's
code) removes the temp file. ``kill -9`` cannot be caught: the temp file
``.<name>.<pid>.<random>.tmp`` stays behind, and the next write to the same target removes
such files whose process is gone and which have not been touched for ``STALE_TEMP_S``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from foresight.core.errors import InputError

logger = logging.getLogger(__name__)

STDOUT = "-"
STALE_TEMP_S = 600.0  # a temp file of a dead process untouched this long is litter
_OPEN_DESCRIPTOR = re.compile(r"^/(dev/(stdout|stderr|fd/\d+)|proc/[^/]+/fd/\d+)$")


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(name)}\.(\d+)\.[A-Za-z0-9_]+\.tmp$")


def _write_through(path: str) -> bool:
    """True when ``path`` must be opened and written in place (see the module docstring)."""
    if path == STDOUT or _OPEN_DESCRIPTOR.match(os.path.abspath(path)):
        return True
    try:
        mode = os.stat(path).st_mode  # follows symlinks
    except FileNotFoundError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def check_output(path: str | Path, what: str = "--out") -> None:
    """Raise InputError now if ``path`` cannot be an output (call it before long work).

    Catches a directory (also ``DIR/`` that does not exist), a missing folder, a block
    device or socket, and a folder where no file can be created (``/proc``). A full disk
    can only show when writing; ``atomic_text_writer`` reports that.
    """
    text = os.fspath(path)
    if text == STDOUT or _write_through(text):
        if text != STDOUT and not os.access(text, os.W_OK):
            raise InputError(f"{what}: cannot write to {text} (permission denied)")
        return
    if os.path.isdir(text):
        raise InputError(f"{what}: {text} is a directory; give a file name")
    if text.endswith(os.sep):
        raise InputError(f"{what}: {text} names a folder (it ends in {os.sep}); give a file name")
    target = Path(os.path.realpath(text))
    if target.exists() and not target.is_file():
        raise InputError(f"{what}: {text} is not a regular file, character device or FIFO")
    if not target.parent.is_dir():
        raise InputError(f"{what}: folder {target.parent} does not exist")
    try:  # the one sure test that a file can be created there: create one
        fd, probe = tempfile.mkstemp(
            prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise InputError(
            f"{what}: cannot create a file in {target.parent} ({exc.strerror})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def remove_stale_temps(target: Path, now: float | None = None) -> list[Path]:
    """Remove temp files of ``target`` left by a killed writer; return what was removed.

    Only names this module makes (``.<name>.<pid>.<random>.tmp``) are considered, and only
    when that pid is gone and the file is older than ``STALE_TEMP_S``.
    """
    now = time.time() if now is None else now
    pattern = _temp_pattern(target.name)
    removed = []
    for entry in target.parent.iterdir():
        match = pattern.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):  # raced with another cleaner: fine
            if now - entry.lstat().st_mtime > STALE_TEMP_S:
                entry.unlink()
                removed.append(entry)
                logger.info("removed %s, left by a writer that was killed", entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems cannot fsync a directory; the rename stands
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_text_writer(
    path: str | Path, *, newline: str | None = None, what: str = "--out"
) -> Iterator[TextIO]:
    """Yield a text handle for ``path``; on success the whole content is there at once.

    See the module docstring for which targets are replaced atomically and which are
    written through. Raises InputError (naming ``what`` and the OS's reason, e.g. "No
    space left on device") for anything the OS refuses; other exceptions pass through.
    Either way a temp file is removed. A new file gets 0666 less the umask; a replaced
    file keeps its permission bits.
    """
    text = os.fspath(path)
    check_output(text, what)
    try:
        if text == STDOUT:
            yield sys.stdout
            sys.stdout.flush()
        elif _write_through(text):
            with open(text, "w", encoding="utf-8", newline=newline) as handle:
                yield handle
        else:
            with _replacing_writer(Path(os.path.realpath(text)), newline) as handle:
                yield handle
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"{what}: cannot write {text}: {reason}") from None


@contextmanager
def _replacing_writer(target: Path, newline: str | None) -> Iterator[TextIO]:
    remove_stale_temps(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            if target.exists():
                mode = stat.S_IMODE(target.stat().st_mode)
            else:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.fchmod(handle.fileno(), mode)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        _fsync_dir(target.parent)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
