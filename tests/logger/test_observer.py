"""Tests for torsion.logger._observer: LogPublisher fan-out and raising observers."""

from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.logger import ILogObserver, LogPublisher


def test_publisherProvidesILogObserver() -> None:
    assert verifyObject(ILogObserver, LogPublisher())


def test_eventGoesToEveryObserverInOrder() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    publisher = LogPublisher(lambda e: seen.append(("a", e)))
    publisher.addObserver(lambda e: seen.append(("b", e)))
    event = {"x": 1}
    publisher(event)
    assert seen == [("a", event), ("b", event)]


def test_addingAnObserverTwiceDeliversOnce() -> None:
    seen: list[dict[str, Any]] = []
    publisher = LogPublisher()
    publisher.addObserver(seen.append)
    publisher.addObserver(seen.append)
    publisher({})
    assert len(seen) == 1


def test_removedObserverGetsNothing() -> None:
    seen: list[dict[str, Any]] = []
    publisher = LogPublisher(seen.append)
    publisher.removeObserver(seen.append)
    publisher({})
    assert seen == []


def test_removingUnknownObserverIsHarmless() -> None:
    LogPublisher().removeObserver(lambda e: None)


def test_addingNonCallableRaisesTypeError() -> None:
    with pytest.raises(TypeError):
        LogPublisher().addObserver(3)  # type: ignore[arg-type]


def test_raisingObserverIsReportedToOthersAndKept() -> None:
    seen: list[dict[str, Any]] = []

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("observer bug")

    publisher = LogPublisher(broken, seen.append)
    publisher({"n": 1})
    assert seen[0] == {"n": 1}
    [report] = seen[1:]
    assert isinstance(report["log_failure"].value, RuntimeError)
    assert report["observer"] is broken
    publisher({"n": 2})
    assert [e for e in seen if "log_failure" not in e] == [{"n": 1}, {"n": 2}]


def test_raisingObserverDoesNotBreakEmitter() -> None:
    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("observer bug")

    LogPublisher(broken)({})


def test_twoRaisingObserversDoNotRecurseForever() -> None:
    calls: list[int] = []

    def broken(event: dict[str, Any]) -> None:
        calls.append(1)
        raise RuntimeError("observer bug")

    def brokenToo(event: dict[str, Any]) -> None:
        calls.append(2)
        raise RuntimeError("observer bug")

    LogPublisher(broken, brokenToo)({})
    assert len(calls) < 10


def test_observerAddedDuringDeliveryIsNotCalledForThatEvent() -> None:
    late: list[dict[str, Any]] = []
    publisher = LogPublisher()
    publisher.addObserver(lambda e: publisher.addObserver(late.append))
    publisher({"first": True})
    assert late == []
    publisher({"second": True})
    assert late == [{"second": True}]
