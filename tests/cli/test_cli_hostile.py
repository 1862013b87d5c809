"""Issue 13 on the command line: hostile and careless input gets exit 2 and one line.

Outputs that are devices, FIFOs, symlinks, directories or stdout (defect 2), inputs that
used to raise tracebacks (defects 3 and 4), every numeric flag's range (defects 4 and
13), unsorted and repeated timestamps (defect 5), one line on stderr (defect 12), and
import/export leftovers (defect 13).
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import main
from foresight.core.timeseries_io import load_series, to_regular_grid
from foresight.store.metric_store import SCHEMA_VERSION, MetricStore

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main.main(argv)
    except SystemExit as stop:  # argparse usage errors
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("main.py"), lines
    assert len(lines[0]) < 600, lines[0][:300]
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def series(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    path = tmp_path / "s.csv"
    rows = [f"{int(T0) + 60 * i},{50 + 10 * np.sin(i / 30) + rng.normal():.3f}" for i in range(800)]
    path.write_text("time,value\n" + "\n".join(rows) + "\n")
    return path


def detect(series: Path, out: str) -> list[str]:
    return [
        "detect",
        "--csv",
        str(series),
        "--value-col",
        "value",
        "--time-col",
        "time",
        "--out",
        out,
    ]


# -- defect 2: outputs -----------------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_detect_into_dev_full_is_exit_2_and_dev_full_stays_a_device(series, capsys) -> None:
    code, _, err = run(detect(series, "/dev/full"), capsys)
    assert_one_line_error(code, err, "No space left on device")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_detect_into_dev_null_writes_through(series, capsys) -> None:
    code, _, err = run(detect(series, "/dev/null"), capsys)
    assert code == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="needs /dev/stdout")
def test_detect_into_dev_stdout_writes_to_the_pipe(series, tmp_path) -> None:
    # A subprocess: its stdout is a real pipe, as in `main.py detect --out /dev/stdout | ...`
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *detect(series, "/dev/stdout")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "timestamp,value,score,is_anomaly" and len(lines) == 801
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]


def test_detect_to_dash_writes_stdout(series, capsys) -> None:
    code, out, _ = run(detect(series, "-"), capsys)
    assert code == 0 and out.splitlines()[0] == "timestamp,value,score,is_anomaly"
    assert not (Path.cwd() / "-").exists()


def test_detect_through_a_symlink_keeps_the_link(series, tmp_path, capsys) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "scores.csv"
    link.symlink_to(target)
    code, _, err = run(detect(series, str(link)), capsys)
    assert code == 0, err
    assert link.is_symlink() and target.read_text().startswith("timestamp,value,score")


def test_detect_into_a_fifo_writes_through(series, tmp_path, capsys) -> None:
    fifo = tmp_path / "scores.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    code, _, err = run(detect(series, str(fifo)), capsys)
    reader.join(30)
    assert code == 0, err
    assert got and len(got[0].splitlines()) == 801
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize(
    "out,needle",
    [
        ("{tmp}", "is a directory"),
        ("{tmp}/", "is a directory"),
        ("{tmp}/new/", "names a folder"),
        ("/proc/version", "--out"),
        ("{tmp}/no/such/s.csv", "does not exist"),
    ],
)
def test_detect_bad_out_is_exit_2_one_line(series, tmp_path, capsys, out, needle) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run(detect(series, out.format(tmp=tmp_path)), capsys)
    assert_one_line_error(code, err, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_replay_report_into_a_directory_is_exit_2(series, tmp_path, capsys) -> None:
    argv = ["replay", "--csv", str(series), "--value-col", "value", "--time-col", "time"]
    code, _, err = run([*argv, "--report", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "--report", "is a directory")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    with MetricStore(d / "foresight.db") as store:
        store.append_many((T0 + i, {"cpu_percent": float(i)}) for i in range(50))
    return d


@pytest.mark.parametrize("out", ["/nonexistent/e.json", "{tmp}", "/proc/version"])
def test_export_bad_out_is_exit_2_one_line(data_dir, tmp_path, capsys, out) -> None:
    argv = ["export", "--data-dir", str(data_dir), "--out", out.format(tmp=tmp_path)]
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, "--out")


def test_export_to_dash_writes_stdout(data_dir, capsys) -> None:
    code, out, _ = run(["export", "--data-dir", str(data_dir), "--out", "-"], capsys)
    assert code == 0 and len(json.loads(out)["metrics"]["cpu_percent"]["points"]) == 50


# -- defects 3, 4, 13: numeric flags ---------------------------------------------------------
BACKTEST = ["backtest", "--csv", "{csv}", "--value-col", "value", "--time-col", "time"]
DETECT = ["detect", "--csv", "{csv}", "--value-col", "value", "--out", "{tmp}/o.csv"]
REPLAY = ["replay", "--csv", "{csv}", "--value-col", "value", "--time-col", "time"]
EXPORT = ["export", "--data-dir", "{tmp}", "--out", "{tmp}/e.json"]
SYNTH = ["synth", "--days", "1", "--out", "{tmp}/s.csv"]
RISK_EVAL = [
    "risk-eval",
    "--train",
    "{csv}",
    "--test",
    "{csv}",
    "--label-col",
    "value",
    "--horizon-s",
    "60",
    "--json",
]
FLAG_CASES = [
    # (command line, flag, bad values)
    (BACKTEST, "--horizon", ["0", "1e300", "10000000000", "nan", "1.5"]),
    (BACKTEST, "--season", ["1", "99999999999", "x"]),
    (BACKTEST, "--step", ["1e-300", "0", "-5", "1e300", "nan", "inf"]),
    (DETECT, "--threshold", ["nan", "inf", "-0.1", "1.5", "x"]),
    (REPLAY, "--boot-s", ["1e300", "-1", "nan", "inf"]),
    (REPLAY, "--step-s", ["1e-300", "0", "1e300", "nan"]),
    (REPLAY, "--unit-capacity", ["1e-300", "0", "1e300", "nan"]),
    (REPLAY, "--min-instances", ["-1", "1e30", "99999999999999999999"]),
    (REPLAY, "--max-instances", ["0", "99999999999999999999", "nan"]),
    (REPLAY, "--memory-unit-capacity", ["1e-300", "0", "1e300", "nan"]),
    (REPLAY, "--confidence-threshold", ["2", "-0.1", "nan", "inf"]),
    (EXPORT, "--since", ["1e300", "-1e300", "nan"]),
    (EXPORT, "--until", ["1e300", "nan", "inf"]),
    (SYNTH, "--days", ["0", "1e300", "nan"]),
    (SYNTH, "--seed", ["-1", "1.5", "x"]),
    (RISK_EVAL, "--horizon-s", ["0", "1e300", "nan"]),
    ([], "--port", ["-1", "65536", "1e300"]),
    ([], "--interval", ["0", "1e-300", "1e300", "nan"]),
    ([], "--retention-days", ["0", "1e300", "nan"]),
]
FLAT = [(cmd, flag, value) for cmd, flag, values in FLAG_CASES for value in values]


@pytest.mark.parametrize("command,flag,value", FLAT, ids=[f"{f}={v}" for _, f, v in FLAT])
def test_every_numeric_flag_is_range_checked(
    series, tmp_path, capsys, command, flag, value
) -> None:
    argv = [a.format(csv=series, tmp=tmp_path) for a in command]
    # top-level flags go before the subcommand; the parser must reject them at once
    argv = [f"{flag}={value}", *argv] if not command else [*argv, f"{flag}={value}"]
    code, out, err = run(argv, capsys)
    assert_one_line_error(code, err, flag)
    assert out == ""


def test_every_numeric_flag_is_in_the_table() -> None:
    """A new numeric flag must get a row above: list them from the parser itself."""
    parser = main.build_parser()
    numeric = set()
    for action in parser._actions:
        if getattr(action.type, "__name__", "") in ("number", "whole number"):
            numeric.add(action.option_strings[-1])
    for sub in parser._subparsers._group_actions[0].choices.values():  # type: ignore[union-attr]
        for action in sub._actions:
            if getattr(action.type, "__name__", "") in ("number", "whole number") or (
                action.dest == "season"
            ):
                numeric.add(action.option_strings[-1])
    assert numeric == {flag for _, flag, _ in FLAG_CASES}


def test_replay_boot_lag_longer_than_the_trace_is_exit_2(series, capsys) -> None:
    argv = [a.format(csv=series) for a in REPLAY]
    code, _, err = run([*argv, "--boot-s", "604800"], capsys)
    assert_one_line_error(code, err, "--boot-s")


# -- defect 5: unsorted and repeated timestamps ----------------------------------------------
@pytest.fixture
def shuffled(tmp_path: Path) -> Path:
    """The issue's case: 800 rows 60 s apart, in random order."""
    rng = np.random.default_rng(5)
    rows = [f"{int(T0) + 60 * i},{50 + 20 * np.sin(i / 40) + rng.normal():.3f}" for i in range(800)]
    random.Random(7).shuffle(rows)
    path = tmp_path / "shuffled.csv"
    path.write_text("time,value\n" + "\n".join(rows) + "\n")
    return path


def test_replay_of_shuffled_rows_sees_800_steps_of_60_s(shuffled, capsys) -> None:
    argv = [a.format(csv=shuffled) for a in REPLAY]
    code, out, err = run([*argv, "--json", "--policy", "reactive"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["step_s"] == 60.0 and result["steps"] == 800
    assert "replaying 800 steps of 60 s" in err


def test_backtest_of_shuffled_rows_is_the_backtest_of_sorted_rows(shuffled, capsys) -> None:
    argv = [a.format(csv=shuffled) for a in BACKTEST]
    code, out, err = run([*argv, "--json", "--horizon", "6"], capsys)
    assert code == 0, err
    shuffled_result = json.loads(out)
    assert shuffled_result["n"] == 800 and shuffled_result["step_s"] == 60.0
    lines = shuffled.read_text().splitlines()
    ordered = shuffled.with_name("sorted.csv")
    ordered.write_text("\n".join([lines[0], *sorted(lines[1:])]) + "\n")
    code, out, _ = run(
        [*[a.format(csv=ordered) for a in BACKTEST], "--json", "--horizon", "6"], capsys
    )
    assert code == 0
    assert json.loads(out)["mase"] == pytest.approx(shuffled_result["mase"])


def test_repeated_timestamps_are_counted_and_averaged(tmp_path, capsys, caplog) -> None:
    rows = [f"{int(T0) + 60 * i},{float(i)}" for i in range(400)]
    rows += [f"{int(T0) + 60 * 10},{1000.0}", f"{int(T0) + 60 * 20},{2000.0}"]  # 2 repeats
    path = tmp_path / "dups.csv"
    path.write_text("time,value\n" + "\n".join(rows) + "\n")
    argv = [a.format(csv=path) for a in REPLAY]
    with caplog.at_level(logging.INFO):  # main.py's handler prints these on stderr
        code, out, err = run(
            [*argv, "--json", "--policy", "reactive", "--unit-capacity", "100"], capsys
        )
    assert code == 0, err
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{path}: 2 row(s) repeat an earlier timestamp; each time step takes the mean of its rows"
    ]
    assert json.loads(out)["steps"] == 400 and json.loads(out)["step_s"] == 60.0
    # the rule: a time step's value is the mean of its rows
    t, v = load_series(path, "value", "time")
    _, grid, _ = to_regular_grid(t, v)
    assert grid[10] == (10 + 1000) / 2 and grid[20] == (20 + 2000) / 2 and grid[11] == 11


# -- defect 3 and 12: import -----------------------------------------------------------------
@pytest.mark.parametrize(
    "text,needle",
    [
        ("[" * 100_000, "must be a JSON object"),
        ('{"metrics": {"a": {"x": ' + "[" * 100_000, "nested more than"),
        ('{"metrics": {"a": {"points": [' + "[" * 100_000, "nested more than"),
        ("{oops", "not valid JSON"),
        ('{"metrics": {"a": {"points": [[1800000000, 1e999]]}}}', "overflow"),
        ('{"metrics": {"a": {"points": [[1800000000, ' + "9" * 5000 + "]]}}}", "overflow"),
        ('{"metrics": {"' + "x" * 100_000 + '": {"points": []}}}', "is not allowed"),
        ('{"metrics": {}} trailing', "text after"),
    ],
    ids=[
        "nested-top",
        "nested-skip",
        "nested-point",
        "broken",
        "inf",
        "bigint",
        "longname",
        "trailing",
    ],
)
def test_import_of_a_hostile_file_is_one_line_and_creates_nothing(
    tmp_path, capsys, text, needle
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    data = tmp_path / "data"
    code, _, err = run(["--data-dir", str(data), "import", str(bad)], capsys)
    assert_one_line_error(code, err, needle)
    assert not data.exists()  # validated before the store was opened


def test_import_goes_in_batches_that_let_another_writer_in(tmp_path) -> None:
    from foresight.store.json_io import read_history, store_history

    path = tmp_path / "h.json"
    points = [[T0 + i, float(i % 97)] for i in range(50_000)]
    path.write_text(json.dumps({"metrics": {"cpu_percent": {"points": points}}}))
    history = read_history(path)
    db = tmp_path / "foresight.db"
    ticks: list[int] = []
    with MetricStore(db) as store, MetricStore(db) as sampler:
        sampler._conn().execute("PRAGMA busy_timeout = 50")  # a sampler that cannot wait

        def between_batches(done: int, total: int) -> None:
            # another connection (the monitor's sampler) writes while the import runs
            ticks.append(sampler.append(T0 + 10**6 + done, {"load1": 1.0}))

        added = store_history(
            store, history, batch_values=10_000, pause_s=0, progress=between_batches
        )
        assert added == 50_000
        assert ticks == [1] * 5
        # idempotent: a re-run (after a crash mid-import) adds nothing twice
        assert store_history(store, history, batch_values=10_000, pause_s=0) == 0
        got = store.query(["cpu_percent"], T0, T0 + 49_999, limit=100_000)["cpu_percent"]
        assert len(got) == 50_000 and got[-1] == (T0 + 49_999, float(49_999 % 97))


def test_import_prints_no_extra_line_before_an_error(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"metrics": {"a": {"points": [[1800000000, "x"]]}}}')
    code, _, err = run(["--data-dir", str(tmp_path / "d"), "import", str(bad)], capsys)
    assert_one_line_error(code, err, "point 0 must be")


# -- defect 12: messages quoting user input are short ----------------------------------------
def test_a_100_kb_header_is_not_echoed(tmp_path, capsys) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("x" * 100_000 + ",y\n1,2\n")
    code, _, err = run(["backtest", "--csv", str(path), "--value-col", "load"], capsys)
    assert_one_line_error(code, err, "no column 'load'")


def test_a_long_bad_cell_is_not_echoed(tmp_path, capsys) -> None:
    path = tmp_path / "cell.csv"
    path.write_text("v\n1\n" + "z" * 100_000 + "\n")
    code, _, err = run(["detect", "--csv", str(path), "--value-col", "v", "--out", "-"], capsys)
    assert_one_line_error(code, err, "row 2 is not a number")


@pytest.mark.parametrize(
    "values,flags,needle",
    [
        (lambda i: f"{np.sin(i / 9):.4f}" if i < 2100 else "", [], "no values in the last"),
    ],
    ids=["empty-test-part"],
)
def test_backtest_prints_no_progress_before_a_late_error(tmp_path, values, flags, needle) -> None:
    # This used to fail only after 8 "refit k/8 done" progress lines. A subprocess:
    # the progress lines go through logging, which pytest's own handlers intercept.
    # (A constant training part, or one that repeats exactly every season, is scored on
    # a fallback MASE scale now: tests/cli/test_cli_backtest_constant_train.py.)
    path = tmp_path / "s.csv"
    rows = [f"{int(T0) + 60 * i},{values(i)}" for i in range(3000)]
    path.write_text("time,value\n" + "\n".join(rows) + "\n")
    argv = [a.format(csv=path) for a in BACKTEST]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *argv, *flags],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert_one_line_error(proc.returncode, proc.stderr, needle)


# -- defect 13: export from a read-only store ------------------------------------------------
def export_argv(data: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "main.py"),
        "export",
        "--data-dir",
        str(data),
        "--out",
        str(out),
    ]


def run_on_read_only(data: Path, out: Path) -> subprocess.CompletedProcess:
    """Run ``export`` with ``data`` unwritable: as root (file modes do not bind root) in a
    private mount namespace where ``data`` is a read-only bind mount — it vanishes with
    the process, so a killed test leaves no mount behind; otherwise by file modes."""
    if os.geteuid() != 0:
        modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [data, *data.iterdir()]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            return subprocess.run(
                export_argv(data, out), capture_output=True, text=True, timeout=120
            )
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare(1) to make a read-only filesystem as root")
    script = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99; '
        'if touch "$1/probe" 2>/dev/null; then exit 98; fi; shift; exec "$@"'
    )
    proc = subprocess.run(
        [
            unshare,
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            str(data),
            *export_argv(data, out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode == 99:
        pytest.skip(f"cannot make a read-only bind mount here: {proc.stderr.strip()}")
    assert proc.returncode != 98, "the bind mount was not read-only"
    return proc


def test_export_reads_a_store_on_a_read_only_filesystem(tmp_path) -> None:
    data = tmp_path / "data"
    with MetricStore(data / "foresight.db") as store:
        store.append_many((T0 + i, {"cpu_percent": float(i)}) for i in range(30))
    before = (data / "foresight.db").read_bytes()
    out = tmp_path / "e.json"
    proc = run_on_read_only(data, out)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(out.read_text())["metrics"]["cpu_percent"]["points"]) == 30
    assert (data / "foresight.db").read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == ["foresight.db"]


def test_read_only_connection_cannot_write(data_dir) -> None:
    from foresight.store.readonly import connect_read_only

    conn = connect_read_only(data_dir / "foresight.db", SCHEMA_VERSION)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM sample")
    conn.close()


def test_demo_with_a_file_as_data_dir_is_one_line_before_any_work(tmp_path: Path, capsys) -> None:
    """`main.py --data-dir FILE` (the demo) ran six weeks of replay, then died on mkdir
    with a traceback and exit 1; now it is exit 2 and one line, before the first
    progress line."""
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("x")
    code, out, err = run(["--data-dir", str(not_a_dir)], capsys)
    assert_one_line_error(code, err, "--data-dir", str(not_a_dir))
    assert out == ""
    assert "Foresight demo" not in err
    code, out, err = run(["--data-dir", "/dev/null"], capsys)
    assert_one_line_error(code, err, "--data-dir", "/dev/null")


def test_the_demo_says_its_workload_and_accuracy_are_synthetic(tmp_path: Path, capsys) -> None:
    """The demo's "72% lower error" was quoted on a generated workload that neither its
    first line nor its report called synthetic: a new user read it as a measured claim."""
    code, out, err = run(["--data-dir", str(tmp_path)], capsys)
    assert code == 0, err
    assert "synthetic" in err.splitlines()[0]
    accuracy = next(line for line in out.splitlines() if line.startswith("forecast accuracy"))
    assert "synthetic" in accuracy and "Accuracy and performance" in accuracy
    report = (tmp_path / "demo-report.html").read_text()
    assert "<title>Foresight demo: a synthetic LMS workload" in report


@pytest.mark.parametrize(
    "argv", [["--port", "8080"], ["--host", "0.0.0.0"], ["--interval", "2"], ["--lstm"]]
)
def test_a_monitor_flag_without_monitor_is_refused_not_a_demo(argv: list[str], capsys) -> None:
    """`main.py --port 8080` (--monitor forgotten) ran the six-week demo, never serving and
    saying nothing of the port; now it is exit 2 and one line that says to add --monitor."""
    code, out, err = run(argv, capsys)
    assert_one_line_error(code, err, argv[0], "add --monitor")
    assert out == "" and "Foresight demo" not in err
