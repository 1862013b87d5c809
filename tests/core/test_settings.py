"""Settings: flags win over the environment, bad values name their source."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from foresight.cli.monitor import settings_from_args
from foresight.core import env_parsers
from foresight.core.errors import InputError
from foresight.core.settings import ENVIRONMENT, Settings, default_of, from_environment

ROOT = Path(__file__).resolve().parents[2]


def args(**kw: object) -> argparse.Namespace:
    base = {
        "host": "127.0.0.1",
        "port": 5000,
        "interval": None,
        "data_dir": Path("d"),
        "retention_days": 7.0,
    }
    return argparse.Namespace(**{**base, **kw})


def test_settings_from_args_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORESIGHT_TOKEN", raising=False)
    monkeypatch.setenv("METRICS_INTERVAL", "2.5")
    assert settings_from_args(args()).interval_s == 2.5
    assert settings_from_args(args(interval=0.5)).interval_s == 0.5
    monkeypatch.setenv("METRICS_INTERVAL", "soon")
    with pytest.raises(InputError, match="METRICS_INTERVAL"):
        settings_from_args(args())
    with pytest.raises(InputError, match=r"--interval must be from 0\.05"):
        settings_from_args(args(interval=0.001))


@pytest.mark.parametrize(
    "host,allowed",
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
    ],
)
def test_non_loopback_host_needs_a_token(
    monkeypatch: pytest.MonkeyPatch, host: str, allowed: bool
) -> None:
    monkeypatch.delenv("FORESIGHT_TOKEN", raising=False)
    monkeypatch.delenv("METRICS_INTERVAL", raising=False)
    if allowed:
        assert settings_from_args(args(host=host)).host == host
    else:
        with pytest.raises(InputError, match="FORESIGHT_TOKEN"):
            settings_from_args(args(host=host))
        monkeypatch.setenv("FORESIGHT_TOKEN", "s3cret-s3cret-s3cret")
        assert settings_from_args(args(host=host)).token == "s3cret-s3cret-s3cret"


@pytest.mark.parametrize("var", ENVIRONMENT, ids=lambda v: v.name)
def test_every_variable_rejects_garbage(var, monkeypatch: pytest.MonkeyPatch) -> None:
    if var.parse is env_parsers.text:
        pytest.skip("free text")
    # "not-a-value" is a fine host name; a URL is not
    garbage = "http://not-a-value:80" if var.name == "FORESIGHT_ALLOWED_HOSTS" else "not-a-value"
    monkeypatch.setenv(var.name, garbage)
    with pytest.raises(InputError, match=var.name):
        from_environment()


def test_flags_win_and_unknown_flags_are_bugs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_INSTANCES", "4")
    assert from_environment().max_instances == 4
    assert from_environment(max_instances=6).max_instances == 6
    with pytest.raises(TypeError):
        from_environment(nonsense=1)
    monkeypatch.setenv("MIN_INSTANCES", "5")
    with pytest.raises(InputError, match="MIN_INSTANCES"):
        from_environment()


def test_readme_environment_table_matches_settings() -> None:
    """The README lists every variable, with the default Settings really has."""
    text = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]*?) \|", text, re.M))
    assert set(rows) == {v.name for v in ENVIRONMENT}
    for var in ENVIRONMENT:
        default = default_of(var)
        shown = rows[var.name].strip()
        if default is None:
            assert shown == "unset", var.name
        elif isinstance(default, bool):
            assert shown == str(int(default)), var.name
        elif isinstance(default, str):
            assert shown == default, var.name
        elif isinstance(default, tuple):
            assert shown == ",".join(default), var.name
        else:
            assert float(shown) == float(default), var.name
    assert Settings().max_instances == default_of(ENVIRONMENT[13])


@pytest.mark.parametrize(
    "token,message",
    [
        ("x", "at least 16 characters (got 1)"),
        ("s3cret", "at least 16 characters (got 6)"),
        (" a-long-enough-token-here", "must not contain whitespace"),
        ("a-long-enough-token-here\n", "must not contain whitespace"),
        ("a long enough token here", "must not contain whitespace"),
        ("   ", "must not contain whitespace"),  # blank is a mistake, not "unset"
        ("a-long-enough-tökén-here", "printable ASCII"),
        ("a-long-enough-token\x07here", "printable ASCII"),
    ],
)
def test_tokens_are_validated_at_start(
    monkeypatch: pytest.MonkeyPatch, token: str, message: str
) -> None:
    """Issue 13 defect 11: a one-character, spaced or non-ASCII token was accepted."""
    monkeypatch.setenv("FORESIGHT_TOKEN", token)
    with pytest.raises(InputError, match="FORESIGHT_TOKEN") as caught:
        settings_from_args(args(host="0.0.0.0"))
    assert message in str(caught.value)
    if len(token.strip()) > 3:
        assert token.strip() not in str(caught.value)  # a secret is never echoed


def test_good_token_and_unset_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORESIGHT_TOKEN", "Zq8-_.~abcdefghij")
    assert settings_from_args(args(host="0.0.0.0")).token == "Zq8-_.~abcdefghij"
    monkeypatch.setenv("FORESIGHT_TOKEN", "")
    assert settings_from_args(args()).token is None


def test_allowed_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FORESIGHT_ALLOWED_HOSTS", " Mon.Example.org, .corp.example,[::1], 10.0.0.7 ,"
    )
    assert from_environment().allowed_hosts == (
        "mon.example.org",
        ".corp.example",
        "::1",
        "10.0.0.7",
    )
    for bad in ("mon.example.org:5000", "http://mon", "a b", "*", ","):
        monkeypatch.setenv("FORESIGHT_ALLOWED_HOSTS", bad)
        with pytest.raises(InputError, match="FORESIGHT_ALLOWED_HOSTS"):
            from_environment()
