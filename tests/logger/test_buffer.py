"""Tests for torsion.logger._buffer: LimitedHistoryLogObserver."""

from typing import Any

from torsion.logger import LimitedHistoryLogObserver


def test_replayGivesEventsOldestFirst() -> None:
    history = LimitedHistoryLogObserver()
    for n in range(3):
        history({"n": n})
    seen: list[dict[str, Any]] = []
    history.replayTo(seen.append)
    assert [e["n"] for e in seen] == [0, 1, 2]


def test_onlyTheLastSizeEventsAreKept() -> None:
    history = LimitedHistoryLogObserver(2)
    for n in range(5):
        history({"n": n})
    seen: list[dict[str, Any]] = []
    history.replayTo(seen.append)
    assert [e["n"] for e in seen] == [3, 4]
