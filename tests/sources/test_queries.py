"""Named PromQL queries: the --prometheus-query flag and the TOML file form."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from foresight.core.errors import InputError
from foresight.sources.queries import PromQuery, combine, load_file, parse_flag

ROOT = Path(__file__).resolve().parents[2]


def test_flag_splits_at_the_first_equals_sign() -> None:
    assert parse_flag('up=up{job="foresight"}') == ("up", 'up{job="foresight"}')
    assert parse_flag("ratio=a == b") == ("ratio", "a == b")


@pytest.mark.parametrize(
    "raw,message",
    [
        ("noequals", "NAME=PROMQL"),
        ("9x=up", "metric name"),
        ("a@b=up", "metric name"),
        ("up=", "non-empty"),
    ],
)
def test_bad_flags_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_flag(raw)


def test_file_form_keeps_promql_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "queries.toml"
    path.write_text(
        "[[query]]\n"
        'name = "cpu_percent"\n'
        "promql = '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[1m])))'\n"
        'target_labels = ["instance"]\n'
        "[[query]]\n"
        'name = "requests_per_s"\n'
        "promql = 'sum by (service) (rate(http_requests_total[1m]))'\n"
    )
    queries = load_file(path)
    assert queries[0] == PromQuery(
        "cpu_percent",
        '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])))',
        ("instance",),
    )
    assert queries[1].target_labels is None
    with pytest.raises(InputError, match="given twice"):
        combine([("cpu_percent", "up")], path)


@pytest.mark.parametrize(
    "text,message",
    [
        ("[[query]]\nname = 'x'\n", "PromQL query must be a non-empty string"),
        ("[[query]]\nname = 'x'\npromql = 'up'\nlabels = 1\n", "unknown key"),
        ("queries = 1\n", "unknown key"),
        ("[[query\n", "not valid TOML"),
        ("", "no \\[\\[query\\]\\] tables"),
    ],
)
def test_bad_files_name_the_file_and_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "q.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_file(path)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--source", "prometheus", "--prometheus-query", "up=up"], "needs --prometheus-url"),
        (
            ["--source", "prometheus", "--prometheus-url", "http://127.0.0.1:1"],
            "needs --prometheus-query",
        ),
        (
            [
                "--source",
                "prometheus",
                "--prometheus-url",
                "ftp://x",
                "--prometheus-query",
                "up=up",
            ],
            "http:// or https://",
        ),
        (["--prometheus-query", "noequals"], "NAME=PROMQL"),
        (["--source", "nowhere"], "invalid choice"),
    ],
)
def test_monitor_refuses_bad_source_flags_with_exit_2(tmp_path: Path, args, message) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "--monitor",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-1500:]
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_shipped_example_file_loads() -> None:
    queries = load_file(ROOT / "deploy" / "prometheus" / "queries.example.toml")
    names = [q.name for q in queries]
    assert names == [
        "cpu_percent",
        "memory_percent",
        "load1",
        "cpu_count",
        "requests_per_s",
        "latency_p95_ms",
    ]
    assert queries[0].target_labels == ("instance",)
