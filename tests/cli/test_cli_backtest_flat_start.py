"""``backtest --json`` on a metric that is flat for its first days and moves later."""

from __future__ import annotations

import json

import numpy as np

import main


def test_backtest_json_serves_a_model_for_a_series_flat_before_validation(tmp_path, capsys):
    # 2,000 five-minute rows: flat at 0 for the first 900 (inside the validation span's
    # history, which ends near row 833), a non-negative random walk after. The first
    # 70 % is not constant, so the series is scored, not refused.
    rng = np.random.default_rng(1)
    values = np.zeros(2000)
    values[900:] = np.abs(np.cumsum(rng.normal(0, 1, 1100)))
    t0 = 1_700_000_100
    text = "t,v\n" + "".join(f"{t0 + 300 * i},{v:.4f}\n" for i, v in enumerate(values))
    path = tmp_path / "flat_start.csv"
    path.write_text(text)
    argv = ["backtest", "--csv", str(path), "--value-col", "v", "--time-col", "t", "--json"]
    code = main.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err

    def no_constant(name: str) -> float:
        raise AssertionError(f"the JSON holds {name}")

    result = json.loads(out, parse_constant=no_constant)
    assert result["model"] in result["candidates"]
    best = min(result["naive_mase"], result["seasonal_naive_mase"], result["linear_lags_mase"])
    assert 0 < result["mase"] <= 1.02 * best
