"""Tests for the messages of torsion.internet.error's exceptions."""

from __future__ import annotations

import builtins

from torsion.internet import error


def test_connectionDoneSaysCleanlyAndKeepsDetail() -> None:
    assert str(error.ConnectionDone()) == "Connection was closed cleanly."
    assert str(error.ConnectionDone("bye")).endswith(" bye")


def test_connectionLostSaysNonClean() -> None:
    assert "non-clean" in str(error.ConnectionLost())


def test_timeoutErrorIsTheBuiltinKind() -> None:
    exc = error.TimeoutError(5, "Deferred")
    assert isinstance(exc, builtins.TimeoutError)
    assert str(exc) == "User timeout caused connection failure. 5 Deferred"
