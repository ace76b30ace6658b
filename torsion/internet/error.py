"""Exceptions raised by the reactor and its transports (Twisted's ``internet.error``).

Tests: tests/internet/test_error.py and the tests of each transport.
"""

from __future__ import annotations

import builtins


class AlreadyCalled(ValueError):
    """The DelayedCall has already run; it can no longer be cancelled or reset."""


class AlreadyCancelled(ValueError):
    """The DelayedCall was cancelled; it can no longer be cancelled or reset."""


class ConnectionDone(Exception):
    """The connection was closed cleanly."""

    def __str__(self) -> str:
        return "Connection was closed cleanly." + (f" {self.args[0]}" if self.args else "")


class ConnectionLost(Exception):
    """The connection was lost in an unclean way."""

    def __str__(self) -> str:
        return "Connection to the other side was lost in a non-clean fashion." + (
            f" {self.args[0]}" if self.args else ""
        )


class ReactorNotRunning(RuntimeError):
    """``reactor.stop()`` was called while the reactor was not running."""


class ReactorAlreadyRunning(RuntimeError):
    """``reactor.run()`` was called while the reactor was already running."""


class ReactorNotRestartable(RuntimeError):
    """This reactor has run and stopped; it cannot be run a second time."""


class ReactorAlreadyInstalledError(AssertionError):
    """A reactor was installed already; installing another would split the program."""


class TimeoutError(builtins.TimeoutError):
    """An operation (a connection attempt, a Deferred with addTimeout) ran out of time."""

    def __str__(self) -> str:
        return "User timeout caused connection failure." + (
            f" {' '.join(map(str, self.args))}" if self.args else ""
        )
