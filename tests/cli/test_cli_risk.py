"""risk-train, risk-score, risk-eval and synth through main.main: files, keys, exit 2."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import main
from foresight.risk import alarm_rule, alarms

EVAL_KEYS = {
    "pr_auc",
    "roc_auc",
    "base_rate",
    "precision",
    "recall",
    "f1",
    "event_recall",
    "false_alarms_per_day",
    "median_lead_s",
    "alarm_time_ratio",
    "event_recall_chance",
    "model",
    "models",
    "feature_importance",
    "baselines",
    "per_file",
}


@pytest.fixture(scope="module")
def synth_csvs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("synth")
    a, b = d / "a.csv", d / "b.csv"
    assert main.main(["synth", "--days", "5", "--out", str(a), "--seed", "1"]) == 0
    assert main.main(["synth", "--days", "4", "--out", str(b), "--seed", "2"]) == 0
    return a, b


def test_synth_writes_labelled_lms_metrics(synth_csvs: tuple[Path, Path]) -> None:
    with synth_csvs[0].open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 * 1440
    assert {"cpu_usage", "db_query_ms", "api_response_ms", "incident"} <= set(rows[0])
    incident = [int(r["incident"]) for r in rows]
    assert 0 < sum(incident) < len(rows) * 0.2
    # every incident row has the API beyond its critical 250 ms
    assert all(float(r["api_response_ms"]) > 250 for r in rows if r["incident"] == "1")


def test_train_then_score_every_row(
    synth_csvs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    args = ["risk-train", "--csv", str(synth_csvs[0]), "--label-col", "incident"]
    args += [
        "--time-col",
        "timestamp",
        "--horizon-s",
        "1800",
        "--out",
        str(model),
        "--models",
        "lr,hgb",
    ]
    assert main.main(args) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["model"] in ("lr", "hgb", "vote(lr+hgb)", "vote(hgb+lr)")
    assert "risk: chosen" in captured.err
    assert set(summary["alarm_rule"]) >= {"threshold_z", "min_rows", "hysteresis_z"}
    assert summary["alarm_share"] == summary["alarm_training"]["alarm_time_ratio"]
    card = json.loads((model / "model_card.json").read_text())
    assert card["alarm_rule"] == summary["alarm_rule"]
    assert card["data"]["files"] == [str(synth_csvs[0])] and card["horizon_s"] == 1800
    scores = tmp_path / "scores.csv"
    score_args = ["risk-score", "--model", str(model), "--csv", str(synth_csvs[1])]
    assert main.main([*score_args, "--time-col", "timestamp", "--out", str(scores)]) == 0
    with scores.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 * 1440
    assert all(0 <= float(r["failure_probability"]) <= 1 for r in rows)
    assert {r["alarm"] for r in rows} <= {"0", "1"}


def test_train_with_blocked_validation_records_it_in_the_card(
    synth_csvs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "blocked"
    args = ["risk-train", "--csv", str(synth_csvs[0]), "--label-col", "incident"]
    args += ["--time-col", "timestamp", "--horizon-s", "1800", "--out", str(model)]
    assert main.main([*args, "--validation", "blocked"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["validation_pr_auc"] > summary["validation_base_rate"]
    card = json.loads((model / "model_card.json").read_text())
    assert card["validation"]["method"].startswith("blocked")
    with pytest.raises(SystemExit) as bad:
        main.main([*args, "--validation", "shuffled"])
    assert bad.value.code == 2


def test_train_with_the_budget_alarm_rule_keeps_it_in_the_card_and_scores(
    synth_csvs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "budget"
    args = ["risk-train", "--csv", str(synth_csvs[0]), "--label-col", "incident"]
    args += ["--time-col", "timestamp", "--horizon-s", "1800", "--out", str(model)]
    assert main.main([*args, "--validation", "blocked", "--alarm-rule", "budget"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rule = summary["alarm_rule"]
    assert rule["refractory_s"] == 1800 and rule["max_alarm_s"] == 3600
    assert rule["threshold_z"] in alarm_rule.BUDGET_THRESHOLDS_Z
    assert summary["alarm_training"]["false_alarms_per_day"] <= 0.7  # risk-train's budget
    card = json.loads((model / "model_card.json").read_text())
    assert card["alarm_rule"] == rule and card["alarm_selection"] == "budget"
    scores = tmp_path / "scores.csv"
    score_args = ["risk-score", "--model", str(model), "--csv", str(synth_csvs[1])]
    assert main.main([*score_args, "--time-col", "timestamp", "--out", str(scores)]) == 0
    with scores.open() as handle:
        flags = np.array([r["alarm"] == "1" for r in csv.DictReader(handle)])
    # the loaded rule shapes the episodes: none in alarm for more than an hour
    assert all(end - start <= 60 for start, end in alarms.runs(flags))
    with pytest.raises(SystemExit) as bad:
        main.main([*args, "--alarm-rule", "f1"])
    assert bad.value.code == 2


def test_eval_json_has_every_key_and_reads_gzip(
    synth_csvs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gz = tmp_path / "b.csv.gz"
    with synth_csvs[1].open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    args = ["risk-eval", "--train", str(synth_csvs[0]), "--test", str(gz), "--label-col"]
    args += [
        "incident",
        "--time-col",
        "timestamp",
        "--horizon-s",
        "1800",
        "--models",
        "lr",
        "--json",
    ]
    assert main.main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert EVAL_KEYS <= set(r)
    assert set(r["baselines"]) == {"base_rate", "max_z"}
    assert r["baselines"]["base_rate"]["pr_auc"] == pytest.approx(r["base_rate"], rel=1e-6)
    assert r["pr_auc"] > r["base_rate"]
    assert set(r["per_file"][str(gz)]) >= {"pr_auc", "event_recall", "false_alarms_per_day"}
    assert 0 <= r["alarm_time_ratio"] <= 1
    # the operating point: chosen on the train file within the cross-machine budget
    assert r["alarm_budget"] == {"false_alarms_per_day": 0.7, "alarm_time_ratio": 0.02}
    assert r["alarm_rule"]["kind"] == "normalised"


def test_eval_within_scores_the_second_half(
    synth_csvs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a = str(synth_csvs[0])
    args = ["risk-eval", "--train", a, "--test", a, "--label-col", "incident", "--time-col"]
    args += ["timestamp", "--horizon-s"]
    assert main.main([*args, "1800", "--models", "lr", "--within", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["mode"] == "within"
    assert r["rows_test"] == 5 * 1440 - 5 * 720 - 30  # second half less a horizon gap
    assert r["rows_train"] == 5 * 720


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--label-col", "nope"], "no column 'nope'"),
        (["--label-col", "incident", "--models", "lr,deep"], "--models must be"),
        (["--label-col", "incident", "--horizon-s", "-5"], "--horizon-s"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    synth_csvs: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    args = ["risk-train", "--csv", str(synth_csvs[0]), "--out", str(tmp_path / "m")]
    args += ["--time-col", "timestamp"]
    if "--horizon-s" not in extra:
        args += ["--horizon-s", "1800"]
    try:
        code = main.main([*args, *extra])
    except SystemExit as exc:  # argparse's own usage errors exit from parse_args
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_non_numeric_cell_names_the_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("t,cpu,incident\n0,1.0,0\n60,high,0\n120,2.0,1\n")
    args = ["risk-eval", "--train", str(bad), "--test", str(bad), "--label-col", "incident"]
    assert main.main([*args, "--horizon-s", "60"]) == 2
    err = capsys.readouterr().err.strip()
    assert "column 'cpu' row 2 is not a number ('high')" in err and len(err.splitlines()) == 1


def test_score_refuses_a_folder_without_a_model(
    synth_csvs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["risk-score", "--model", str(tmp_path), "--csv", str(synth_csvs[1])]
    args += ["--time-col", "timestamp"]
    assert main.main([*args, "--out", str(tmp_path / "s.csv")]) == 2
    assert "not a risk model directory" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_eval_within_defaults_to_the_bagged_extra_trees_and_its_vote_with_lr(
    synth_csvs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """One machine's own labels: etb and etlr (across machines the default is lr)."""
    a = str(synth_csvs[0])
    args = ["risk-eval", "--train", a, "--test", a, "--label-col", "incident", "--time-col"]
    args += ["timestamp", "--horizon-s", "1800", "--json"]
    assert main.main([*args, "--within"]) == 0
    within = json.loads(capsys.readouterr().out)
    assert set(within["models"]) == {"etb", "etlr"}
    assert within["model"] in {"etb", "etlr", "vote(etb+etlr)", "vote(etlr+etb)"}
    assert main.main(args) == 0
    assert set(json.loads(capsys.readouterr().out)["models"]) == {"lr"}
