"""Named PromQL queries: ``--prometheus-query NAME=PROMQL`` and the TOML file form.

The file is TOML rather than YAML: PromQL is full of quotes, braces and colons, which a
TOML literal string (``'...'``) takes verbatim while a plain YAML scalar starting with
``{`` is a mapping; TOML has no implicit typing, and ``tomllib`` is in the standard
library. One table per query::

    [[query]]
    name = "cpu_percent"           # the metric (a unit suffix gives it its unit)
    promql = '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])))'
    target_labels = ["instance"]   # optional: the labels that make the target (default all)

Each result series of a query is stored under metric ``name`` with its labels (all but
``__name__``, or only ``target_labels``) as the target.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foresight.core.errors import InputError
from foresight.core.series import check_metric_name

MAX_QUERIES = 1000


@dataclass(frozen=True, slots=True)
class PromQuery:
    """One named PromQL query; ``target_labels`` None: every label makes the target."""

    name: str
    promql: str
    target_labels: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "promql": self.promql,
            "target_labels": None if self.target_labels is None else list(self.target_labels),
        }


def _query(name: object, promql: object, where: str, labels: object = None) -> PromQuery:
    try:
        check_metric_name(name, f"{where}: the name")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not isinstance(promql, str) or not promql.strip():
        raise InputError(f"{where}: the PromQL query must be a non-empty string (got {promql!r})")
    target_labels: tuple[str, ...] | None = None
    if labels is not None:
        if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
            raise InputError(
                f"{where}: target_labels must be a list of label names (got {labels!r})"
            )
        target_labels = tuple(labels)
    assert isinstance(name, str)
    return PromQuery(name, promql.strip(), target_labels)


def parse_flag(raw: str) -> tuple[str, str]:
    """``NAME=PROMQL`` of one ``--prometheus-query`` as ``(name, promql)``."""
    name, sep, promql = raw.partition("=")
    if not sep:
        raise InputError(f"--prometheus-query must be NAME=PROMQL (got {raw!r})")
    query = _query(name.strip(), promql, f"--prometheus-query {raw!r}")
    return query.name, query.promql


def load_file(path: Path) -> list[PromQuery]:
    """The ``[[query]]`` tables of a TOML file; InputError names the file and the entry."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the queries file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"the queries file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"query"})
    if unknown:
        raise InputError(f"{path}: unknown key(s) {', '.join(unknown)}; expected [[query]] tables")
    entries = document.get("query", [])
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{path}: no [[query]] tables (each needs name and promql)")
    out = []
    for index, entry in enumerate(entries, 1):
        where = f"{path}: query {index}"
        if not isinstance(entry, dict):
            raise InputError(f"{where} must be a table")
        extra = sorted(set(entry) - {"name", "promql", "target_labels"})
        if extra:
            raise InputError(f"{where}: unknown key(s) {', '.join(extra)}")
        out.append(
            _query(entry.get("name"), entry.get("promql"), where, entry.get("target_labels"))
        )
    return out


def combine(flags: Iterable[tuple[str, str]], path: Path | None) -> list[PromQuery]:
    """The flags' queries, then the file's; a name given twice is an error."""
    queries = [PromQuery(name, promql) for name, promql in flags]
    if path is not None:
        queries += load_file(path)
    seen: set[str] = set()
    for query in queries:
        if query.name in seen:
            raise InputError(f"the Prometheus query name {query.name!r} is given twice")
        seen.add(query.name)
    if not queries:
        raise InputError("no Prometheus queries given")
    if len(queries) > MAX_QUERIES:
        raise InputError(f"at most {MAX_QUERIES} Prometheus queries (got {len(queries)})")
    return queries
