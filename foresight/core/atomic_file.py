"""Write a file so that readers see the old version or the whole new one, never half."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def atomic_text_writer(path: str | Path, *, newline: str | None = None) -> Iterator[TextIO]:
    """Yield a text handle on a temp file beside ``path``; rename it over ``path`` on success.

    On any exception the temp file is removed and ``path`` is left as it was. The file
    gets the usual permissions (0666 less the umask), not mkstemp's private 0600, since
    reports and exports are meant to be opened by people and other tools.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
