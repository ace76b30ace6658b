"""Fixtures shared by the trial kit's tests: a fake clock and a unittest runner."""

from __future__ import annotations

import unittest
from collections.abc import Callable

import pytest

from torsion.trial._spin import PrivateLoop


class FakeTime:
    """A clock whose sleep just moves time forward, so no test really waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class CaseRun:
    """The outcome of running one unittest case, with its failure text joined."""

    def __init__(self, case: unittest.TestCase) -> None:
        self.result = unittest.TestResult()
        case.run(self.result)
        self.text = "\n".join(t for _, t in self.result.failures + self.result.errors)


@pytest.fixture
def fakeTime() -> FakeTime:
    return FakeTime()


@pytest.fixture
def loop(fakeTime: FakeTime) -> PrivateLoop:
    return PrivateLoop(now=fakeTime.monotonic, sleep=fakeTime.sleep)


@pytest.fixture
def runCase() -> Callable[[unittest.TestCase], CaseRun]:
    return CaseRun
