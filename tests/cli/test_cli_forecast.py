"""The ``backtest`` and ``detect`` commands: outputs, contracts and every error path."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import main
from foresight.core.timeseries_io import load_series, to_regular_grid

BACKTEST_KEYS = (
    "n",
    "step_s",
    "horizon",
    "season_length",
    "mase",
    "mase_by_step",
    "mae",
    "smape",
    "coverage_80",
    "seasonal_naive_mase",
    "linear_lags_mase",
    "fit_seconds",
)


def write_series(
    path: Path, n: int = 800, *, iso: bool = True, gaps: bool = True, step_s: int = 300
) -> Path:
    rng = np.random.default_rng(0)
    t0 = 1_700_000_100  # a multiple of 300 s: 5-minute bins line up with the rows
    lines = ["time,load"]
    for i in range(n):
        stamp = t0 + i * step_s
        when = (np.datetime64(stamp, "s").astype(str) + "Z") if iso else str(stamp)
        value = 50 + 10 * np.sin(2 * np.pi * i / 48) + rng.normal()
        cell = "" if gaps and i % 53 == 7 else f"{value:.3f}"
        lines.append(f"{when},{cell}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- backtest --------------------------------------------------------------------------------
def test_backtest_json_has_the_contract_keys(tmp_path, capsys):
    csv_path = write_series(tmp_path / "s.csv")
    code, out, _ = run(
        [
            "backtest",
            "--csv",
            str(csv_path),
            "--value-col",
            "load",
            "--time-col",
            "time",
            "--horizon",
            "6",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    result = json.loads(out)
    for key in BACKTEST_KEYS:
        assert key in result, key
    assert result["horizon"] == 6 and result["step_s"] == 300.0 and result["n"] == 800
    assert len(result["mase_by_step"]) == 6 and result["season_length"] == 48


def test_backtest_table_and_epoch_times_and_resampling(tmp_path, capsys):
    csv_path = write_series(tmp_path / "s.csv", iso=False, step_s=60, n=2400)
    code, out, _ = run(
        [
            "backtest",
            "--csv",
            str(csv_path),
            "--value-col",
            "load",
            "--time-col",
            "time",
            "--step",
            "300",
            "--horizon",
            "4",
        ],
        capsys,
    )
    assert code == 0
    assert "seasonal naive" in out and "480 steps of 300 s" in out


def test_backtest_without_time_column(tmp_path, capsys):
    csv_path = write_series(tmp_path / "s.csv")
    code, out, _ = run(
        ["backtest", "--csv", str(csv_path), "--value-col", "load", "--season", "48", "--json"],
        capsys,
    )
    assert code == 0 and json.loads(out)["season_length"] == 48


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "in.csv"
    path.write_text(text)
    return str(path)


INPUT_ERRORS = [
    ("missing file", None, ["--value-col", "load"]),
    ("missing value column", "time,load\n1,2\n", ["--value-col", "cpu"]),
    ("missing time column", "time,load\n1,2\n", ["--value-col", "load", "--time-col", "t"]),
    ("empty file", "", ["--value-col", "load"]),
    ("header only", "time,load\n", ["--value-col", "load"]),
    ("non-numeric text", "time,load\n1,2\n2,abc\n", ["--value-col", "load"]),
    ("unreadable time", "time,load\nyesterday,2\n", ["--value-col", "load", "--time-col", "time"]),
    ("no numbers at all", "time,load\n1,\n2,\n", ["--value-col", "load"]),
]


@pytest.mark.parametrize("command", ["backtest", "detect"])
@pytest.mark.parametrize("label,text,args", INPUT_ERRORS, ids=[c[0] for c in INPUT_ERRORS])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, command, label, text, args):
    path = write(tmp_path, text) if text is not None else str(tmp_path / "absent.csv")
    extra = ["--out", str(tmp_path / "scores.csv")] if command == "detect" else []
    code, out, err = run([command, "--csv", path, *args, *extra], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("main.py: error:")
    assert not (tmp_path / "scores.csv").exists()


def test_series_too_short_for_the_horizon_exits_2(tmp_path, capsys):
    csv_path = write_series(tmp_path / "s.csv", n=60)
    code, _, err = run(
        ["backtest", "--csv", str(csv_path), "--value-col", "load", "--horizon", "50"], capsys
    )
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "flags",
    [
        ["--horizon", "0"],
        ["--horizon", "abc"],
        ["--horizon", "1.5"],
        ["--season", "1"],
        ["--season", "daily"],
        ["--step", "0"],
        ["--step", "-5"],
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, flags):
    csv_path = write_series(tmp_path / "s.csv")
    with pytest.raises(SystemExit) as stop:
        main.main(["backtest", "--csv", str(csv_path), "--value-col", "load", *flags])
    _, err = capsys.readouterr()
    assert stop.value.code == 2
    assert len(err.strip().splitlines()) == 1, err


# -- detect ----------------------------------------------------------------------------------
def test_detect_writes_one_row_per_input_row_in_order(tmp_path, capsys):
    text = ["timestamp,value"]
    rng = np.random.default_rng(1)
    for i in range(300):
        text.append(f"2014-02-14 {i // 60:02d}:{i % 60:02d}:00,{rng.normal():.4f}")
    text.insert(101, text[100])  # a repeated timestamp (daylight saving), kept
    text[200] = text[200].split(",")[0] + ","  # an empty cell: a gap
    in_path = write(tmp_path, "\n".join(text) + "\n")
    out_path = tmp_path / "scores.csv"
    code, _out, _ = run(
        [
            "detect",
            "--csv",
            in_path,
            "--value-col",
            "value",
            "--time-col",
            "timestamp",
            "--out",
            str(out_path),
        ],
        capsys,
    )
    assert code == 0
    with out_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["timestamp", "value", "score", "is_anomaly"]
    assert len(rows) == 301
    assert [r["timestamp"] for r in rows] == [line.split(",")[0] for line in text[1:]]
    scores = np.array([float(r["score"]) for r in rows])
    assert ((scores >= 0) & (scores <= 1)).all()
    assert rows[199]["value"] == "" and rows[199]["score"] == "0"
    assert {r["is_anomaly"] for r in rows} <= {"0", "1"}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_detect_failure_keeps_the_previous_output(tmp_path, capsys):
    out_path = tmp_path / "scores.csv"
    out_path.write_text("previous results\n")
    code, _, _ = run(
        [
            "detect",
            "--csv",
            write(tmp_path, "timestamp,value\n1,x\n"),
            "--value-col",
            "value",
            "--out",
            str(out_path),
        ],
        capsys,
    )
    assert code == 2 and out_path.read_text() == "previous results\n"


def test_detect_into_missing_folder_exits_2(tmp_path, capsys):
    csv_path = write_series(tmp_path / "s.csv")
    code, _, err = run(
        [
            "detect",
            "--csv",
            str(csv_path),
            "--value-col",
            "load",
            "--out",
            str(tmp_path / "no" / "such" / "out.csv"),
        ],
        capsys,
    )
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_detect_on_a_shared_nab_file(shared_data, tmp_path, capsys):
    source = shared_data / "nab" / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv"
    out_path = tmp_path / "scores.csv"
    code, _, _ = run(
        [
            "detect",
            "--csv",
            str(source),
            "--value-col",
            "value",
            "--time-col",
            "timestamp",
            "--out",
            str(out_path),
        ],
        capsys,
    )
    assert code == 0
    n_in = len(source.read_text().strip().splitlines())
    with out_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == n_in - 1
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)


# -- loading helpers -------------------------------------------------------------------------
def test_load_series_reads_iso_and_epoch_and_gaps(tmp_path):
    path = write(
        tmp_path,
        "t,v\n2020-01-01T00:00:00Z,1\n2020-01-01T00:01:00Z,\n2020-01-01T00:02:00+00:00,3.5\n",
    )
    ts, values = load_series(path, "v", "t")
    assert ts.tolist() == [1577836800.0, 1577836860.0, 1577836920.0]
    assert values[0] == 1 and np.isnan(values[1]) and values[2] == 3.5
    ts, _ = load_series(write(tmp_path, "t,v\n100,1\n160,2\n"), "v", "t")
    assert ts.tolist() == [100.0, 160.0]


def test_regular_grid_averages_bins_and_marks_gaps():
    ts = np.array([0.0, 30.0, 60.0, 200.0])
    grid_ts, grid_v, row_bin = to_regular_grid(ts, np.array([1.0, 3.0, 5.0, 7.0]), 60.0)
    assert grid_ts.tolist() == [0.0, 60.0, 120.0, 180.0]
    assert grid_v[0] == 2.0 and grid_v[1] == 5.0 and np.isnan(grid_v[2]) and grid_v[3] == 7.0
    assert row_bin.tolist() == [0, 0, 1, 3]


def test_observed_col_turns_unobserved_rows_into_gaps(tmp_path) -> None:
    # A trace's "observed" flag: 0 means no log for that row (a gap), not zero demand.
    path = tmp_path / "trace.csv"
    path.write_text("t,requests,observed\n0,5,1\n60,0,0\n120,7,1\n180,0,1\n")
    _, values = load_series(path, "requests", "t", "observed")
    assert np.isnan(values[1])
    assert values.tolist()[:1] + values.tolist()[2:] == [5.0, 7.0, 0.0]


def test_observed_col_must_exist(tmp_path, capsys) -> None:
    path = tmp_path / "trace.csv"
    path.write_text("t,requests\n0,5\n60,6\n")
    code = main.main(
        [
            "backtest",
            "--csv",
            str(path),
            "--value-col",
            "requests",
            "--time-col",
            "t",
            "--observed-col",
            "seen",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no column 'seen'" in err[0]


def test_detect_min_change_from_the_catalog_silences_tiny_moves(tmp_path, capsys):
    values = [42.0] * 400 + [42.1] * 200  # a 0.1-point move of a near-constant percentage
    text = "timestamp,value\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))
    in_path = write(tmp_path, text)
    flagged = {}
    for label, extra in (("raw", []), ("catalog", ["--metric", "disk_percent"])):
        out_path = tmp_path / f"{label}.csv"
        argv = ["detect", "--csv", in_path, "--value-col", "value", "--time-col", "timestamp"]
        code, _, _ = run([*argv, "--out", str(out_path), *extra], capsys)
        assert code == 0
        with out_path.open() as handle:
            flagged[label] = sum(r["is_anomaly"] == "1" for r in csv.DictReader(handle))
    assert flagged["raw"] >= 1 and flagged["catalog"] == 0
    argv = ["detect", "--csv", in_path, "--value-col", "value", "--time-col", "timestamp"]
    code, _, err = run([*argv, "--out", str(tmp_path / "x.csv"), "--min-change", "-1"], capsys)
    assert code == 2 and "--min-change" in err and "-1" in err
