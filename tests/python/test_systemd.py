"""Tests for torsion.python.systemd.ListenFDs (reading the socket-activation variables)."""

from __future__ import annotations

import os

import pytest

from torsion.python.systemd import ListenFDs


def env(**values: str) -> dict[str, str]:
    return {"LISTEN_PID": str(os.getpid()), **values}


def test_descriptorsStartAtThree() -> None:
    passed = ListenFDs.fromEnvironment(env(LISTEN_FDS="3"))
    assert passed.inheritedDescriptors() == [3, 4, 5]
    assert passed.inheritedNamedDescriptors() == {}


def test_namesFromListenFdNames() -> None:
    passed = ListenFDs.fromEnvironment(env(LISTEN_FDS="3", LISTEN_FDNAMES="web::admin"))
    assert passed.inheritedNamedDescriptors() == {"web": 3, "admin": 5}


def test_tooFewNamesLeaveTheRestUnnamedAndExtraNamesAreIgnored() -> None:
    assert ListenFDs.fromEnvironment(
        env(LISTEN_FDS="2", LISTEN_FDNAMES="a")
    ).inheritedNamedDescriptors() == {"a": 3}
    assert ListenFDs.fromEnvironment(
        env(LISTEN_FDS="1", LISTEN_FDNAMES="a:b:c")
    ).inheritedNamedDescriptors() == {"a": 3}


def test_nothingForAnotherProcess() -> None:
    other = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "2"}
    assert ListenFDs.fromEnvironment(other).inheritedDescriptors() == []


def test_nothingWithoutTheVariables() -> None:
    assert ListenFDs.fromEnvironment({}).inheritedDescriptors() == []
    assert ListenFDs.fromEnvironment(env()).inheritedDescriptors() == []


def test_nothingForNonsense() -> None:
    for count in ("", "x", "-2", "0"):
        assert ListenFDs.fromEnvironment(env(LISTEN_FDS=count)).inheritedDescriptors() == []


def test_customStart() -> None:
    assert ListenFDs.fromEnvironment(env(LISTEN_FDS="2"), start=10).inheritedDescriptors() == [
        10,
        11,
    ]


def test_readsOsEnvironByDefault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    monkeypatch.setenv("LISTEN_FDS", "1")
    assert ListenFDs.fromEnvironment().inheritedDescriptors() == [3]


def test_listsAreCopies() -> None:
    passed = ListenFDs([3, 4], ["a"])
    passed.inheritedDescriptors().append(99)
    assert passed.inheritedDescriptors() == [3, 4]
    assert "ListenFDs([3, 4]" in repr(passed)
