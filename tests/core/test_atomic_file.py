"""atomic_text_writer: all or nothing, and files people can open."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from foresight.core.atomic_file import atomic_text_writer
from foresight.core.errors import InputError


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


# -- issue 13, defect 2: never replace what the path points at ------------------------------
def test_a_symlink_stays_a_link_and_its_target_gets_the_content(tmp_path) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with atomic_text_writer(link) as handle:
        handle.write("new\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv"]


def test_a_dangling_symlink_creates_its_target(tmp_path) -> None:
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "later.csv")
    with atomic_text_writer(link) as handle:
        handle.write("x\n")
    assert link.is_symlink() and (tmp_path / "later.csv").read_text() == "x\n"


def test_a_replaced_file_keeps_its_permission_bits(tmp_path) -> None:
    target = tmp_path / "private.json"
    target.write_text("old\n")
    target.chmod(0o600)
    with atomic_text_writer(target) as handle:
        handle.write("new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_character_device_is_written_through_not_replaced() -> None:
    before = os.stat("/dev/null")
    with atomic_text_writer("/dev/null") as handle:
        handle.write("discarded\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_device_is_an_input_error_with_the_reason() -> None:
    with pytest.raises(InputError, match="No space left on device"):
        with atomic_text_writer("/dev/full") as handle:
            handle.write("x" * 100_000)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_fifo_is_written_through(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    with atomic_text_writer(fifo) as handle:
        handle.write("through the pipe\n")
    reader.join(10)
    assert got == ["through the pipe\n"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_dash_is_stdout(capsys) -> None:
    with atomic_text_writer("-") as handle:
        handle.write("to stdout\n")
    assert capsys.readouterr().out == "to stdout\n"


@pytest.mark.parametrize("suffix", ["", "/"])
def test_a_directory_is_refused(tmp_path, suffix) -> None:
    with pytest.raises(InputError, match="is a directory"):
        with atomic_text_writer(f"{tmp_path}{suffix}") as handle:
            handle.write("x")
    assert list(tmp_path.iterdir()) == []


def test_a_path_ending_in_a_slash_is_refused_even_when_absent(tmp_path) -> None:
    from foresight.core.atomic_file import check_output

    with pytest.raises(InputError, match="names a folder"):
        check_output(f"{tmp_path}/new/")
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_removes_the_temp_file(tmp_path) -> None:
    target = tmp_path / "scores.csv"
    with pytest.raises(KeyboardInterrupt):
        with atomic_text_writer(target) as handle:
            handle.write("half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_temp_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path) -> None:
    from foresight.core.atomic_file import STALE_TEMP_S

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    target = tmp_path / "scores.csv"
    stale = tmp_path / f".scores.csv.{dead_pid}.abc123.tmp"
    fresh_dead = tmp_path / f".scores.csv.{dead_pid}.def456.tmp"
    live = tmp_path / f".scores.csv.{os.getpid()}.xyz789.tmp"
    other = tmp_path / f".other.csv.{dead_pid}.abc123.tmp"
    for path in (stale, fresh_dead, live, other):
        path.write_text("left over")
    old = time.time() - 2 * STALE_TEMP_S
    for path in (stale, live, other):
        os.utime(path, (old, old))
    with atomic_text_writer(target) as handle:
        handle.write("new\n")
    left = sorted(p.name for p in tmp_path.iterdir())
    # only the old file of a dead writer for this target goes; a live writer's and a
    # recent one stay, and so does another target's
    assert left == sorted([target.name, fresh_dead.name, live.name, other.name])
