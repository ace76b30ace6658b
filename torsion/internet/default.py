"""The platform's default reactor: ``install()`` makes it the global one.

Today that is SelectReactor (epoll on Linux through ``selectors.DefaultSelector``).
Tests: tests/internet/test_main.py.
"""

from __future__ import annotations

from torsion.internet.selectreactor import install

__all__ = ["install"]
