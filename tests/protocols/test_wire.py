"""Tests for torsion.protocols.wire."""

from __future__ import annotations

from torsion.internet.testing import StringTransport
from torsion.protocols.wire import Discard, Echo


def test_echoWritesBackWhatItReceives() -> None:
    transport = StringTransport()
    echo = Echo()
    echo.makeConnection(transport)
    echo.dataReceived(b"hello")
    echo.dataReceived(b" world")
    assert transport.value() == b"hello world"


def test_discardWritesNothing() -> None:
    transport = StringTransport()
    discard = Discard()
    discard.makeConnection(transport)
    discard.dataReceived(b"hello")
    assert transport.value() == b""
