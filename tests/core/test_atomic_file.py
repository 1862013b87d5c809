"""atomic_text_writer: all or nothing, and files people can open."""

from __future__ import annotations

import os
import stat

import pytest

from foresight.core.atomic_file import atomic_text_writer


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path) -> None:
    target = tmp_path / "scores.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_text_writer(target) as handle:
            handle.write("half of the new")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_a_finished_write_replaces_the_file_with_umask_permissions(tmp_path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old\n")
    old_umask = os.umask(0o022)
    try:
        with atomic_text_writer(target) as handle:
            handle.write("new\n")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
