"""Fixtures for the adbapi tests: the reactor conformance fixture, shared from
tests/internet/reactormixins.py."""

from tests.internet.reactormixins import reactor

__all__ = ["reactor"]
