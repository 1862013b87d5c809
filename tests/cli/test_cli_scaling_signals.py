"""Issue 15 on the command line: a bad CONFIDENCE_THRESHOLD (or scaling signal list)
stops ``--monitor`` at start with exit 2 and one line; ``replay`` takes the threshold
and an optional memory column (without one, CPU alone, as before)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import main

ROOT = Path(__file__).resolve().parents[2]


def test_monitor_refuses_a_confidence_threshold_of_2_at_start(tmp_path):
    """The default hybrid policy too: the real process, exit 2, one line, nothing made."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALING_", "CONFIDENCE"))}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--monitor", "--port", "0", "--data-dir", "d"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "CONFIDENCE_THRESHOLD": "2"},
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "CONFIDENCE_THRESHOLD" in lines[0] and "'2'" in lines[0]
    assert not (tmp_path / "d").exists()  # nothing half-made


@pytest.mark.parametrize(
    "env, needle",
    [
        ({"CONFIDENCE_THRESHOLD": "-0.1"}, "CONFIDENCE_THRESHOLD"),
        ({"CONFIDENCE_THRESHOLD": "nan"}, "CONFIDENCE_THRESHOLD"),
        ({"CONFIDENCE_THRESHOLD": "1.5", "SCALING_POLICY": "predictive"}, "CONFIDENCE_THRESHOLD"),
        ({"SCALING_SIGNALS": "cpu,gpu"}, "SCALING_SIGNALS"),
        ({"SCALING_INSTANCE_MEMORY_GB": "0"}, "SCALING_INSTANCE_MEMORY_GB"),
        ({"SCALING_STATUS_URL": "ftp://x"}, "SCALING_STATUS_URL"),
    ],
)
def test_monitor_refuses_bad_scaling_settings(tmp_path, monkeypatch, capsys, env, needle):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main.main(["--monitor", "--port", "0", "--data-dir", str(tmp_path / "data")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], lines
    assert not (tmp_path / "data").exists()


def _trace(path: Path, memory: np.ndarray | None) -> Path:
    n = len(CPU)
    header = "t,cpu" + (",mem" if memory is not None else "")
    rows = [header]
    for i in range(n):
        row = f"{i * 300},{CPU[i]:.4f}"
        if memory is not None:
            row += f",{memory[i]:.4f}"
        rows.append(row)
    path.write_text("\n".join(rows) + "\n")
    return path


CPU = 4.0 + 3.0 * np.sin(2 * np.pi * np.arange(3 * 288) / 288)  # 3 days of 5-min steps


def replay_json(capsys, csv: Path, *extra: str) -> dict:
    argv = ["replay", "--csv", str(csv), "--value-col", "cpu", "--time-col", "t"]
    argv += ["--unit-capacity", "1", "--policy", "reactive", "--json", *extra]
    assert main.main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_replay_memory_column_is_a_second_signal(tmp_path, capsys):
    cpu_only = replay_json(capsys, _trace(tmp_path / "a.csv", None))
    low = _trace(tmp_path / "b.csv", CPU / 4)
    same = replay_json(capsys, low, "--memory-col", "mem", "--memory-unit-capacity", "1")
    assert same["policies"] == cpu_only["policies"]  # memory never higher: CPU alone
    high = _trace(tmp_path / "c.csv", CPU * 2)
    more = replay_json(capsys, high, "--memory-col", "mem", "--memory-unit-capacity", "1")
    assert more["policies"]["reactive"]["cost"] > 1.3 * cpu_only["policies"]["reactive"]["cost"]


def test_replay_confidence_threshold_is_checked(tmp_path, capsys):
    csv = _trace(tmp_path / "a.csv", None)
    argv = ["replay", "--csv", str(csv), "--value-col", "cpu", "--confidence-threshold", "2"]
    with pytest.raises(SystemExit) as exc:
        main.main(argv)
    assert exc.value.code == 2
    assert "--confidence-threshold" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--memory-col", "nope"], "no column 'nope'"),
        (["--memory-col", "mem"], "demand must be >= 0"),
    ],
    ids=["missing-column", "negative-memory"],
)
def test_replay_bad_memory_column_is_one_line(tmp_path, capsys, extra, needle):
    # Without --unit-capacity the "unit capacity ..." note came first: two lines on stderr.
    csv = _trace(tmp_path / "m.csv", -CPU)
    argv = ["replay", "--csv", str(csv), "--value-col", "cpu", "--time-col", "t", *extra]
    code = main.main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], lines
