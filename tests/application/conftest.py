"""Fixtures for the application tests: sob (real or stand-in), and a recording reactor.

``sob`` is torsion.persisted.sob when it can be imported, otherwise the stand-in of
_fakesob.py installed under that name for the test. ``fakeReactor`` is a
MemoryReactorClock that also records the listen/connect calls of the transports the
ready services use (SSL, UNIX, UDP, multicast, UNIX datagram), whether or not this
tree's real reactors have them yet. ``installedAsGlobal`` makes a test's reactor the
global one for a while (as torsiond's is), then puts back what was there.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from zope.interface import implementer

from torsion.internet.address import IPv4Address
from torsion.internet.interfaces import IListeningPort
from torsion.internet.testing import MemoryReactorClock


@pytest.fixture
def sob(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    try:
        from torsion.persisted import sob as real  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        yield real
        return
    from tests.application import _fakesob

    package = types.ModuleType("torsion.persisted")
    package.sob = _fakesob  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torsion.persisted", package)
    monkeypatch.setitem(sys.modules, "torsion.persisted.sob", _fakesob)
    yield _fakesob


@implementer(IListeningPort)
class RecordedPort:
    """What the recording reactor's listen methods return."""

    def __init__(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.method = method
        self.args = args
        self.kwargs = kwargs
        self.stopped = 0

    def startListening(self) -> None:
        pass

    def stopListening(self) -> str:
        self.stopped += 1
        return "stopped"

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 0)


class RecordedConnector:
    """What the recording reactor's connect methods return."""

    def __init__(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.method = method
        self.args = args
        self.kwargs = kwargs
        self.disconnected = 0

    def disconnect(self) -> None:
        self.disconnected += 1


class RecordedDatagramConnection(RecordedPort):
    """What connectUNIXDatagram returns: a connected port, stopped with stopListening."""


class RecordingReactor(MemoryReactorClock):
    """A MemoryReactorClock that records every listen/connect the ready services make.

    ``calls`` holds ``(method name, args, kwargs)``; ``ports`` and ``connections``
    what was returned, in order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.ports: list[RecordedPort] = []
        self.connections: list[Any] = []

    def _listen(self, method: str, *args: Any, **kwargs: Any) -> RecordedPort:
        self.calls.append((method, args, kwargs))
        port = RecordedPort(method, args, kwargs)
        self.ports.append(port)
        return port

    def _connect(self, method: str, *args: Any, **kwargs: Any) -> RecordedConnector:
        self.calls.append((method, args, kwargs))
        connector = RecordedConnector(method, args, kwargs)
        self.connections.append(connector)
        return connector

    def listenTCP(self, *args: Any, **kwargs: Any) -> Any:
        return self._listen("listenTCP", *args, **kwargs)

    def connectTCP(self, *args: Any, **kwargs: Any) -> Any:
        return self._connect("connectTCP", *args, **kwargs)

    def listenSSL(self, *args: Any, **kwargs: Any) -> Any:
        return self._listen("listenSSL", *args, **kwargs)

    def connectSSL(self, *args: Any, **kwargs: Any) -> Any:
        return self._connect("connectSSL", *args, **kwargs)

    def listenUNIX(self, *args: Any, **kwargs: Any) -> Any:
        return self._listen("listenUNIX", *args, **kwargs)

    def connectUNIX(self, *args: Any, **kwargs: Any) -> Any:
        return self._connect("connectUNIX", *args, **kwargs)

    def listenUDP(self, *args: Any, **kwargs: Any) -> Any:
        return self._listen("listenUDP", *args, **kwargs)

    def listenMulticast(self, *args: Any, **kwargs: Any) -> Any:
        return self._listen("listenMulticast", *args, **kwargs)

    def listenUNIXDatagram(self, *args: Any, **kwargs: Any) -> Any:
        return self._listen("listenUNIXDatagram", *args, **kwargs)

    def connectUNIXDatagram(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("connectUNIXDatagram", args, kwargs))
        connection = RecordedDatagramConnection("connectUNIXDatagram", args, kwargs)
        self.connections.append(connection)
        return connection


@pytest.fixture
def fakeReactor() -> RecordingReactor:
    return RecordingReactor()


@contextlib.contextmanager
def installedAsGlobal(made: Any) -> Iterator[None]:
    """Install ``made`` as the global reactor for a while, then put back what was there."""
    import torsion.internet
    from torsion.internet import main

    previous = sys.modules.get("torsion.internet.reactor")
    previousFrom = main._installedFrom
    main._uninstallReactor()
    main.installReactor(made)
    try:
        yield
    finally:
        main._uninstallReactor()
        if previous is not None:
            sys.modules["torsion.internet.reactor"] = previous
            torsion.internet.reactor = previous  # type: ignore[attr-defined]
            main._installedFrom = previousFrom
