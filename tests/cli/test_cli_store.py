"""``main.py export`` / ``main.py import``: round trip, --data-dir placement, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import main
from foresight.store.metric_store import MetricStore

T0 = 1_800_000_000.0


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    with MetricStore(d / "foresight.db") as store:
        store.append_many((T0 + i, {"cpu_percent": float(i), "load1": 0.5}) for i in range(20))
    return d


def test_export_then_import_round_trip(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "h.json"
    assert main.main(["export", "--out", str(out), "--data-dir", str(data_dir)]) == 0
    assert "exported 40 values" in capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert len(doc["metrics"]["cpu_percent"]["points"]) == 20
    other = tmp_path / "other"
    assert main.main(["--data-dir", str(other), "import", str(out)]) == 0
    assert "imported 40 new values" in capsys.readouterr().err
    with MetricStore(other / "foresight.db") as store:
        assert store.query(["cpu_percent"], T0, T0 + 19, limit=100)["cpu_percent"][-1] == (
            T0 + 19,
            19.0,
        )


def test_export_filters(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "h.json"
    assert (
        main.main(
            [
                "export",
                "--out",
                str(out),
                "--data-dir",
                str(data_dir),
                "--metric",
                "load1",
                "--since",
                str(T0 + 5),
                "--until",
                str(T0 + 9),
            ]
        )
        == 0
    )
    points = json.loads(out.read_text())["metrics"]
    assert list(points) == ["load1"] and len(points["load1"]["points"]) == 5


@pytest.mark.parametrize(
    "argv,message",
    [
        (["export", "--out", "x.json", "--data-dir", "{missing}"], "no history at"),
        (
            ["export", "--out", "x.json", "--data-dir", "{data}", "--metric", "nope"],
            "unknown metric(s) nope",
        ),
        (["import", "{missing}/h.json", "--data-dir", "{data}"], "no such file"),
        (["import", "{bad}", "--data-dir", "{data}"], "is not valid JSON"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    argv = [a.format(missing=tmp_path / "missing", data=data_dir, bad=bad) for a in argv]
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("main.py: error:")
