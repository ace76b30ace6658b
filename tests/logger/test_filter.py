"""Tests for torsion.logger._filter: FilteringLogObserver and LogLevelFilterPredicate."""

from typing import Any

import pytest

from torsion.logger import (
    FilteringLogObserver,
    InvalidLogLevelError,
    LogLevel,
    LogLevelFilterPredicate,
    PredicateResult,
)


def event(namespace: str, level: LogLevel) -> dict[str, Any]:
    return {"log_namespace": namespace, "log_level": level}


def test_eventPassesWhenAllPredicatesSayMaybe() -> None:
    seen: list[dict[str, Any]] = []
    FilteringLogObserver(seen.append, [lambda e: PredicateResult.maybe])({"a": 1})
    assert seen == [{"a": 1}]


def test_noDropsEventAndSendsItToNegativeObserver() -> None:
    seen: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    FilteringLogObserver(seen.append, [lambda e: PredicateResult.no], dropped.append)({"a": 1})
    assert seen == []
    assert dropped == [{"a": 1}]


def test_yesPassesWithoutAskingLaterPredicates() -> None:
    seen: list[dict[str, Any]] = []
    FilteringLogObserver(
        seen.append, [lambda e: PredicateResult.yes, lambda e: PredicateResult.no]
    )({})
    assert seen == [{}]


def test_predicateReturningNonsenseRaisesTypeError() -> None:
    observer = FilteringLogObserver(lambda e: None, [lambda e: True])  # type: ignore[list-item, return-value]
    with pytest.raises(TypeError):
        observer({})


def test_levelPredicateDropsEventsBelowDefault() -> None:
    predicate = LogLevelFilterPredicate()
    assert predicate(event("a", LogLevel.debug)) is PredicateResult.no
    assert predicate(event("a", LogLevel.info)) is PredicateResult.maybe


def test_namespaceLevelIsInheritedBySubNamespaces() -> None:
    predicate = LogLevelFilterPredicate()
    predicate.setLogLevelForNamespace("app.db", LogLevel.error)
    assert predicate.logLevelForNamespace("app.db.pool") is LogLevel.error
    assert predicate(event("app.db.pool", LogLevel.warn)) is PredicateResult.no
    assert predicate(event("app.web", LogLevel.warn)) is PredicateResult.maybe
    assert predicate.logLevelForNamespace("app.dbx") is LogLevel.info


def test_changingALevelAfterLookupTakesEffect() -> None:
    predicate = LogLevelFilterPredicate()
    assert predicate.logLevelForNamespace("a.b") is LogLevel.info
    predicate.setLogLevelForNamespace("a", LogLevel.debug)
    assert predicate.logLevelForNamespace("a.b") is LogLevel.debug


def test_clearLogLevelsRestoresDefault() -> None:
    predicate = LogLevelFilterPredicate(LogLevel.warn)
    predicate.setLogLevelForNamespace("a", LogLevel.debug)
    predicate.clearLogLevels()
    assert predicate.logLevelForNamespace("a") is LogLevel.warn


def test_emptyNamespaceSetsRootLevel() -> None:
    predicate = LogLevelFilterPredicate()
    predicate.setLogLevelForNamespace(None, LogLevel.error)
    assert predicate.logLevelForNamespace("anything") is LogLevel.error
    assert predicate.logLevelForNamespace(None) is LogLevel.error


def test_settingNonLevelRaises() -> None:
    with pytest.raises(InvalidLogLevelError):
        LogLevelFilterPredicate().setLogLevelForNamespace("a", "debug")  # type: ignore[arg-type]


def test_eventWithoutLevelIsNotJudged() -> None:
    assert LogLevelFilterPredicate()({"log_namespace": "a"}) is PredicateResult.maybe


def test_eventWithBogusLevelIsDropped() -> None:
    assert LogLevelFilterPredicate()({"log_level": "loud"}) is PredicateResult.no
