"""``backtest`` on a series whose first 70 % never changes (a counter idle for weeks) or
repeats exactly every season: valid input, scored on a fallback MASE scale that the
output names (``mase_scale_from`` in ``--json``, a line in the human format)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import main

T0 = 1_700_000_100


def write_csv(tmp_path, values) -> str:
    path = tmp_path / "s.csv"
    text = "t,v\n" + "".join(f"{T0 + 300 * i},{v:.4f}\n" for i, v in enumerate(values))
    path.write_text(text)
    return str(path)


def backtest_argv(path: str, *flags: str) -> list[str]:
    return ["backtest", "--csv", path, "--value-col", "v", "--time-col", "t", *flags]


def idle_then_busy(n: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(4)
    v = np.zeros(n)
    v[1500:] = np.abs(np.cumsum(rng.normal(0, 1, n - 1500)))  # moves only in the last 25 %
    return v


def strict_json(out: str) -> dict:
    def no_constant(name: str) -> float:
        raise AssertionError(f"the JSON holds {name}")

    return json.loads(out, parse_constant=no_constant)


@pytest.mark.parametrize(
    "values,flags,source",
    [
        (idle_then_busy(), [], "whole"),
        (np.full(2000, 5.0), [], "unit"),
        ((np.arange(2000) % 48).astype(float), ["--season", "48"], "train-lag1"),
    ],
    ids=["constant-training-part", "never-changes", "exact-season"],
)
def test_backtest_json_scores_it_and_names_the_scale(tmp_path, capsys, values, flags, source):
    code = main.main(backtest_argv(write_csv(tmp_path, values), "--json", *flags))
    out, err = capsys.readouterr()
    assert code == 0, err
    d = strict_json(out)
    assert d["mase_scale_from"] == source and d["scale"] > 0
    best = min(d["naive_mase"], d["seasonal_naive_mase"], d["linear_lags_mase"])
    assert 0 <= d["mase"] <= 1.02 * best
    assert d["model"] in d["candidates"]


def test_backtest_text_says_which_scale(tmp_path, capsys):
    code = main.main(backtest_argv(write_csv(tmp_path, idle_then_busy())))
    out, err = capsys.readouterr()
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("MASE scale"))
    assert "whole series" in line and "never changes" in line


def test_an_ordinary_series_keeps_its_keys_and_the_training_scale(tmp_path, capsys):
    rng = np.random.default_rng(5)
    values = 20 + 5 * np.sin(np.arange(2000) / 40) + rng.normal(0, 1, 2000)
    code = main.main(backtest_argv(write_csv(tmp_path, values), "--json"))
    out, err = capsys.readouterr()
    assert code == 0, err
    d = strict_json(out)
    assert d["mase_scale_from"] == "train" and isinstance(d["scale"], float)
    for key in ("mase", "naive_mase", "seasonal_naive_mase", "linear_lags_mase", "coverage_80"):
        assert isinstance(d[key], float)


def test_no_value_to_score_is_still_refused(tmp_path, capsys):
    values = 10 + np.sin(np.arange(2000) / 30)
    values[1400:] = np.nan  # the training part moves; nothing is left to score
    path = tmp_path / "s.csv"
    rows = [f"{T0 + 300 * i},{'' if v != v else f'{v:.4f}'}" for i, v in enumerate(values)]
    path.write_text("t,v\n" + "\n".join(rows) + "\n")
    code = main.main(backtest_argv(str(path), "--json"))
    _, err = capsys.readouterr()
    assert code == 2 and "no values in the last 30%" in err
