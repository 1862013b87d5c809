"""``python main.py replay``: the JSON contract, the report, and every error path."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import main
from foresight.replay.scenarios import lms_scenario, square_wave
from foresight.replay.simulation import replay

KEYS = {
    "cost",
    "instance_hours",
    "overload_minutes",
    "overload_ratio",
    "mean_slack",
    "actions",
    "scale_ups",
    "scale_downs",
}


def write_trace(
    path: Path, *, days: float = 3, step_s: int = 300, gaps: int = 0, with_observed: bool = False
) -> Path:
    """A daily-cycle demand trace (requests per step) as CSV with ISO times."""
    n = int(days * 86_400 / step_s)
    t = 1_767_571_200 + step_s * np.arange(n)
    hour = (t % 86_400) / 3600
    v = 100 + 80 * np.sin((hour - 8) / 24 * 2 * math.pi) + np.random.default_rng(1).normal(0, 5, n)
    rows = ["timestamp,requests" + (",observed" if with_observed else "")]
    for i, (ti, vi) in enumerate(zip(t, v)):
        iso = np.datetime_as_string(np.datetime64(int(ti), "s")) + "Z"
        if with_observed:
            seen = 0 if 100 <= i < 100 + gaps else 1
            rows.append(f"{iso},{0 if not seen else round(vi, 2)},{seen}")
        else:
            rows.append(f"{iso},{'' if 100 <= i < 100 + gaps else round(vi, 2)}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def trace(tmp_path) -> Path:
    return write_trace(tmp_path / "trace.csv")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main.main(["replay", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract_for_all_policies(capsys, trace):
    code, out, err = run(
        capsys, "--csv", str(trace), "--value-col", "requests", "--time-col", "timestamp", "--json"
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"policies", "steps", "step_s", "unit_capacity", "boot_s"}
    assert set(doc["policies"]) == {"threshold", "reactive", "predictive", "hybrid"}
    for metrics in doc["policies"].values():
        assert set(metrics) >= KEYS
        assert 0 <= metrics["overload_ratio"] <= 1 and 0 <= metrics["mean_slack"] <= 1
        assert metrics["actions"] == metrics["scale_ups"] + metrics["scale_downs"]
        assert metrics["cost"] == pytest.approx(metrics["instance_hours"] * 0.10, rel=1e-3)
        # Added keys (the contract grows only additively): flaps <= scale-downs.
        assert 0 <= metrics["flaps"] <= metrics["scale_downs"]
        assert metrics["flaps_per_day"] == pytest.approx(metrics["flaps"] / 3, abs=1e-3)
    assert doc["flap_window_s"] == 600
    assert doc["steps"] == 864 and doc["step_s"] == 300 and doc["boot_s"] == 300
    # Default unit capacity: the 99.9 % quantile needs 9 instances; said on stderr.
    assert "unit capacity" in err and doc["unit_capacity"] > 0


def test_one_policy_with_explicit_settings_and_table_output(capsys, trace):
    code, out, _ = run(
        capsys,
        "--csv",
        str(trace),
        "--value-col",
        "requests",
        "--time-col",
        "timestamp",
        "--unit-capacity",
        "25",
        "--boot-s",
        "600",
        "--step-s",
        "600",
        "--min-instances",
        "2",
        "--max-instances",
        "12",
        "--policy",
        "reactive",
    )
    assert code == 0
    assert out.splitlines()[0].split()[:2] == ["policy", "actions"]
    assert out.splitlines()[0].split()[-2:] == ["flaps", "flaps/day"]
    assert "reactive" in out and "hybrid" not in out


def test_rows_without_a_time_column_are_step_s_apart(capsys, trace):
    code, out, _ = run(
        capsys,
        "--csv",
        str(trace),
        "--value-col",
        "requests",
        "--step-s",
        "300",
        "--policy",
        "hybrid",
        "--json",
    )
    assert code == 0 and json.loads(out)["step_s"] == 300


def test_gaps_and_observed_column(capsys, tmp_path):
    blank = write_trace(tmp_path / "blank.csv", gaps=30)
    code, out, _ = run(
        capsys, "--csv", str(blank), "--value-col", "requests", "--time-col", "timestamp", "--json"
    )
    assert code == 0
    masked = write_trace(tmp_path / "masked.csv", gaps=30, with_observed=True)
    code, out2, _ = run(
        capsys,
        "--csv",
        str(masked),
        "--value-col",
        "requests",
        "--time-col",
        "timestamp",
        "--observed-col",
        "observed",
        "--json",
    )
    assert code == 0
    # Zeros flagged as unobserved are the same gaps as blank cells.
    assert json.loads(out)["policies"] == json.loads(out2)["policies"]


def test_report_is_self_contained(capsys, trace, tmp_path):
    report = tmp_path / "replay.html"
    code, _, err = run(
        capsys,
        "--csv",
        str(trace),
        "--value-col",
        "requests",
        "--time-col",
        "timestamp",
        "--report",
        str(report),
    )
    assert code == 0 and "report written" in err
    page = report.read_text()
    assert page.count("<canvas") == 2 and '"hybrid": ' in page
    assert "<script src" not in page and "http://" not in page.split("<script>")[0]
    assert "Chart.js v4" in page  # the library itself is inline (its licence header)
    assert "Charts unavailable" not in page  # set-up copied Chart.js; the report found it


def test_report_escapes_what_it_quotes():
    from foresight.replay.report import render
    from foresight.replay.scenarios import lms_scenario
    from foresight.replay.simulation import replay

    scenario = lms_scenario(days=2, step_s=300.0)
    result = replay(scenario.timestamps, scenario.demand, step_s=300.0, boot_s=300.0)
    page = render(result, title="<b>t</b>", notes=["</script><script>alert(1)</script>"])
    assert "<b>t</b>" not in page and "&lt;b&gt;t&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--csv", "nope.csv", "--value-col", "v"], "no such file"),
        (["--csv", "{trace}", "--value-col", "cpu"], "no column 'cpu'"),
        (["--csv", "{trace}", "--value-col", "requests", "--time-col", "when"], "no column"),
        (["--csv", "{text}", "--value-col", "v"], "not a number"),
        (["--csv", "{negative}", "--value-col", "v"], "must be >= 0"),
        (["--csv", "{empty}", "--value-col", "v"], "empty"),
        (
            [
                "--csv",
                "{trace}",
                "--value-col",
                "requests",
                "--min-instances",
                "5",
                "--max-instances",
                "3",
            ],
            "above --max-instances",
        ),
        (
            ["--csv", "{trace}", "--value-col", "requests", "--report", "/no/such/dir/r.html"],
            "does not exist",
        ),
        (["--csv", "{trace}", "--value-col", "requests", "--policy", "magic"], "invalid choice"),
        (
            ["--csv", "{trace}", "--value-col", "requests", "--boot-s", "-1"],
            "must be a number from 0 to",
        ),
        (
            ["--csv", "{trace}", "--value-col", "requests", "--unit-capacity", "0"],
            "must be a number from 1e-09 to",
        ),
        (["--csv", "{trace}", "--value-col", "requests", "--step-s", "abc"], "must be a number"),
        (["--csv", "{trace}", "--value-col", "requests", "--max-instances", "0"], "from 1 to"),
        (["--csv", "{zeros}", "--value-col", "v"], "all zero"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, trace, argv, message):
    files = {"trace": trace}
    for name, body in {
        "text": "v\n1\nlots\n",
        "negative": "v\n1\n-2\n",
        "empty": "",
        "zeros": "v\n0\n0\n0\n",
    }.items():
        files[name] = tmp_path / f"{name}.csv"
        files[name].write_text(body)
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in argv]
    try:
        code = main.main(["replay", *argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


def test_help_lists_the_contract_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main.main(["replay", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--csv",
        "--value-col",
        "--time-col",
        "--unit-capacity",
        "--boot-s",
        "--step-s",
        "--min-instances",
        "--max-instances",
        "--policy",
        "--json",
        "--report",
    ):
        assert flag in out


def test_replay_with_the_real_forecaster_does_not_flap_on_a_square_wave():
    n = 2 * 1440  # two days of one-minute steps
    t = 1_767_571_200 + 60.0 * np.arange(n)
    demand = square_wave(n, low=1.0, high=4.0, period_steps=4)
    result = replay(t, demand, step_s=60, boot_s=300, policies=("reactive", "hybrid"))
    for m in result.metrics.values():
        assert m.scale_downs <= 1 and m.scale_ups <= 2


def test_hybrid_beats_reactive_on_the_demo_scenario():
    s = lms_scenario(days=21)
    result = replay(
        s.timestamps, s.demand, step_s=s.step_s, boot_s=300, policies=("reactive", "hybrid")
    )
    r, h = result.metrics["reactive"], result.metrics["hybrid"]
    assert h.overload_minutes < r.overload_minutes
    assert h.cost <= 1.15 * r.cost


def test_alibaba_trace_replays(capsys, shared_data):
    path = shared_data / "traces" / "alibaba2018_cluster_usage_300s_days3-8.csv"
    code, out, _ = run(
        capsys, "--csv", str(path), "--value-col", "cpu_util_percent", "--time-col", "t_s", "--json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["steps"] == 1728 and doc["step_s"] == 300


def test_long_replays_cap_the_forecaster_refits() -> None:
    # issue 13, defect 14: daily refits were most of a multi-year replay's time
    scenario = lms_scenario(days=42)
    capped = replay(
        scenario.timestamps,
        scenario.demand,
        step_s=scenario.step_s,
        policies=("reactive",),
        max_refits=7,
    )
    assert 1 <= capped.forecast.refits <= 7
    daily = replay(
        scenario.timestamps[: 288 * 10],
        scenario.demand[: 288 * 10],
        step_s=scenario.step_s,
        policies=("reactive",),
        max_refits=20,
    )
    assert daily.forecast.refits == 9  # 10 days, under the cap: still daily
