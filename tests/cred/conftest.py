"""Fixtures for the torsion.cred tests: a reactor whose thread pool runs, and the log
events of a test. The helpers they go with are in tests/cred/helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet.reactormixins import closeReactor
from torsion.internet.selectreactor import SelectReactor
from torsion.logger import globalLogPublisher


@pytest.fixture
def poolReactor() -> Iterator[Any]:
    """A select reactor with its thread pool started, closed after the test."""
    made = SelectReactor()
    made.getThreadPool().start()
    try:
        yield made
    finally:
        closeReactor(made)


@pytest.fixture
def logEvents() -> Iterator[list[dict[str, Any]]]:
    """Every torsion.logger event published during the test."""
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)
