"""Fixtures and helpers shared by the logging tests (torsion.logger and torsion.python.log).

tests/conftest.py loads this module as a plugin, so its fixtures (``cest``,
``stdlibLogger``, ``logged``) are available everywhere.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import pytest

from torsion.logger import LogEvent, globalLogPublisher

# 2004/04/24 17:08 in Central European Summer Time, the seed's example line.
SEED_TIME = 1082819280.0


@pytest.fixture
def cest() -> Iterator[None]:
    """Run the test with the local time zone set to Europe/Rome, as in the seed's log."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Rome"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


class RecordingHandler(logging.Handler):
    """A ``logging`` handler that keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def stdlibLogger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A stdlib logger private to the test, left with no handlers afterwards."""
    logger = logging.getLogger(f"torsion-test.{request.node.name}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


@pytest.fixture
def logged() -> Iterator[list[LogEvent]]:
    """Every torsion.logger event published during the test, in order."""
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)
