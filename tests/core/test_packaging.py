"""pyproject.toml and the requirements files say the same thing; the console script works."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_lines(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(("#", "-r"))]


def test_runtime_dependencies_match_requirements_txt() -> None:
    assert PYPROJECT["project"]["dependencies"] == requirement_lines("requirements.txt")


def test_dev_extra_matches_requirements_dev_txt() -> None:
    assert PYPROJECT["project"]["optional-dependencies"]["dev"] == requirement_lines(
        "requirements-dev.txt"
    )


def test_bench_extra_matches_requirements_bench_txt() -> None:
    assert PYPROJECT["project"]["optional-dependencies"]["bench"] == requirement_lines(
        "requirements-bench.txt"
    )


def test_lstm_extra_matches_requirements_lstm_txt() -> None:
    assert PYPROJECT["project"]["optional-dependencies"]["lstm"] == requirement_lines(
        "requirements-lstm.txt"
    )


def test_sql_extra_matches_requirements_sql_txt() -> None:
    assert PYPROJECT["project"]["optional-dependencies"]["sql"] == requirement_lines(
        "requirements-sql.txt"
    )


def test_console_script_runs_the_cli() -> None:
    script = shutil.which("foresight", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("foresight is not installed in this venv (make setup runs pip install -e .)")
    result = subprocess.run(
        [script, "replay", "--policy", "psychic"], capture_output=True, text=True, cwd="/"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("foresight replay: error:")
    assert len(result.stderr.strip().splitlines()) == 1
