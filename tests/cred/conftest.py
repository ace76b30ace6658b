"""Fixtures for the torsion.cred tests: a reactor whose thread pool runs, and the log
events of a test. The helpers they go with are in tests/cred/helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet.reactormixins import closeReactor
from torsion.internet.selectreactor import SelectReactor


@pytest.fixture
def poolReactor() -> Iterator[Any]:
    """A select reactor with its thread pool started, closed after the test."""
    made = SelectReactor()
    made.getThreadPool().start()
    try:
        yield made
    finally:
        closeReactor(made)
