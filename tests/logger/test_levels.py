"""Tests for torsion.logger._levels: LogLevel names, lookup and ordering."""

import pytest

from torsion.logger import InvalidLogLevelError, LogLevel


@pytest.mark.parametrize("name", ["debug", "info", "warn", "error", "critical"])
def test_levelWithNameFindsEachLevel(name: str) -> None:
    assert LogLevel.levelWithName(name) is getattr(LogLevel, name)
    assert LogLevel.levelWithName(name).name == name


def test_levelWithUnknownNameRaisesInvalidLogLevelError() -> None:
    with pytest.raises(InvalidLogLevelError) as info:
        LogLevel.levelWithName("loud")
    assert info.value.level == "loud"
    assert "critical" in str(info.value)


def test_levelWithNonStringNameRaisesInvalidLogLevelError() -> None:
    with pytest.raises(InvalidLogLevelError):
        LogLevel.levelWithName(3)  # type: ignore[arg-type]


def test_levelsAreOrderedByImportance() -> None:
    assert LogLevel.debug < LogLevel.info < LogLevel.warn < LogLevel.error < LogLevel.critical
    assert LogLevel.critical >= LogLevel.critical
    assert LogLevel.error > LogLevel.warn
    assert LogLevel.info <= LogLevel.warn


def test_levelDoesNotCompareWithIntegers() -> None:
    with pytest.raises(TypeError):
        _ = LogLevel.info < 3
