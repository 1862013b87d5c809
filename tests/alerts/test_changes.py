"""The alert change log behind GET /api/alerts?cursor=: revisions, not timestamps."""

from __future__ import annotations

import pytest

from foresight.alerts.changes import ChangeLog
from foresight.core.errors import InputError


def test_changes_since_a_cursor_are_the_union_of_later_revisions() -> None:
    log = ChangeLog(epoch="ab12")
    start = log.cursor()
    log.record([1, 2])
    middle = log.cursor()
    log.record([2, 3, None])  # an unsaved episode (no id) is not addressable
    log.record([])  # nothing changed: no revision
    assert log.cursor() == "ab12-2"
    assert log.since(start) == {1, 2, 3}
    assert log.since(middle) == {2, 3}
    assert log.since(log.cursor()) == frozenset()


def test_a_cursor_older_than_the_kept_revisions_or_of_another_life_is_none() -> None:
    log = ChangeLog(keep=2, epoch="ab12")
    first = log.cursor()
    for ids in ([1], [2], [3]):
        log.record(ids)
    assert log.since(first) is None  # revision 1 is forgotten: the caller sends everything
    assert log.since("ab12-1") == {2, 3}  # revisions 2 and 3 are kept
    assert log.since("cd34-1") is None and log.since("ab12-9") is None


@pytest.mark.parametrize("cursor", ["", "ab12", "ab12-x", "zz-1", "ab12-1-2"])
def test_a_malformed_cursor_is_an_input_error(cursor: str) -> None:
    with pytest.raises(InputError, match="cursor"):
        ChangeLog().since(cursor)
