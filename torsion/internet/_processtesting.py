"""MemoryProcess: the in-memory process transport that MemoryReactor.spawnProcess returns.

It records what the protocol does to the "child" (writes per descriptor, closes,
signals, producers) and lets a test play the child's part: ``childWrites`` delivers
output, ``childCloses`` closes one of its pipes, ``exit`` ends it with an exit code or
a signal, with processExited and processEnded in the real order.
Tests: tests/internet/test_processprotocol.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.address import _ProcessAddress
from torsion.internet.interfaces import IConsumer, IProcessTransport
from torsion.internet.process import _exitReason, _signalNumber
from torsion.python.failure import Failure

__all__ = ["MemoryProcess"]

_pids = itertools.count(10000)


@implementer(IProcessTransport, IConsumer)
class MemoryProcess:
    """A pretend child process connected to ``proto`` (``makeConnection`` is called).

    Attributes:
        pid: a made-up process id (None after ``exit``).
        openFDs: the child's descriptors that still have a pipe to them.
        signals: every signal number sent with ``signalProcess``, in order.
        producer, streaming: what ``registerProducer`` was given.
    """

    def __init__(self, proto: Any, childFDs: Mapping[int, Any] | None = None) -> None:
        self.proto = proto
        self.pid: int | None = next(_pids)
        self.openFDs: set[int] = set(childFDs if childFDs is not None else (0, 1, 2))
        self.signals: list[int] = []
        self.producer: Any = None
        self.streaming: bool | None = None
        self._written: dict[int, list[bytes]] = {}
        self._exitReason: BaseException | None = None
        proto.makeConnection(self)

    def value(self, childFD: int = 0) -> bytes:
        """Return everything written to the child's descriptor ``childFD``."""
        return b"".join(self._written.get(childFD, []))

    # -- the child's part, played by the test ---------------------------------------------

    def childWrites(self, childFD: int, data: bytes) -> None:
        """Deliver ``data`` as output of the child's descriptor ``childFD``."""
        self.proto.childDataReceived(childFD, data)

    def childCloses(self, childFD: int) -> None:
        """Close the pipe of ``childFD``, as the child exiting or closing it would."""
        if childFD in self.openFDs:
            self.openFDs.discard(childFD)
            self.proto.childConnectionLost(childFD)
            self._maybeEnded()

    def exit(self, exitCode: int = 0, signal: int | None = None) -> None:
        """End the child: processExited, its pipes closed, then processEnded."""
        status = signal if signal is not None else exitCode << 8
        self._exitReason = _exitReason(status)
        self.pid = None
        self.proto.processExited(Failure(self._exitReason))
        for childFD in sorted(self.openFDs):
            self.childCloses(childFD)
        self._maybeEnded()

    def _maybeEnded(self) -> None:
        if self._exitReason is not None and not self.openFDs:
            reason, self._exitReason = self._exitReason, None
            self.proto.processEnded(Failure(reason))

    # -- IProcessTransport ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Record ``data`` as written to stdin."""
        self.writeToChild(0, data)

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        """Record each of ``seq`` as written to stdin."""
        for data in seq:
            self.writeToChild(0, data)

    def writeToChild(self, childFD: int, data: bytes) -> None:
        """Record ``data`` as written to ``childFD``.

        Raises:
            TypeError: if ``data`` is not bytes.
        """
        if not isinstance(data, bytes):
            raise TypeError(f"processes are sent bytes, not {type(data).__name__}")
        if childFD in self.openFDs:
            self._written.setdefault(childFD, []).append(data)

    def closeChildFD(self, descriptor: int) -> None:
        """Close the pipe of ``descriptor``."""
        self.childCloses(descriptor)

    def closeStdin(self) -> None:
        """Close stdin."""
        self.childCloses(0)

    def closeStdout(self) -> None:
        """Close stdout."""
        self.childCloses(1)

    def closeStderr(self) -> None:
        """Close stderr."""
        self.childCloses(2)

    def loseConnection(self) -> None:
        """Close every pipe."""
        for childFD in sorted(self.openFDs):
            self.childCloses(childFD)

    def signalProcess(self, signalID: str | int) -> None:
        """Record the signal.

        Raises:
            ProcessExitedAlready: after ``exit``.
            ValueError: for an unknown signal name.
        """
        number = _signalNumber(signalID)
        if self.pid is None:
            raise error.ProcessExitedAlready("the process has exited already")
        self.signals.append(number)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Record the producer."""
        self.producer = producer
        self.streaming = streaming

    def unregisterProducer(self) -> None:
        """Forget the producer."""
        self.producer = None
        self.streaming = None

    def getHost(self) -> _ProcessAddress:
        """Return a process's (empty) address."""
        return _ProcessAddress()

    def getPeer(self) -> _ProcessAddress:
        """Return a process's (empty) address."""
        return _ProcessAddress()

    def __repr__(self) -> str:
        return f"<MemoryProcess pid={self.pid} of {type(self.proto).__name__}>"
