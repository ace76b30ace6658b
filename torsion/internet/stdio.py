"""StandardIO: a protocol on this process's standard input and output.

``StandardIO(protocol)`` connects ``protocol`` to stdin and stdout as it would be to
a socket: what arrives on stdin goes to ``dataReceived``, ``transport.write`` goes
to stdout (buffered and flow-controlled: it takes producers, so FileSender can send
a file to stdout), and ``connectionLost`` comes once both are closed. A protocol that
provides IHalfCloseableProtocol hears ``readConnectionLost`` when stdin reaches its
end and may go on writing; ``loseWriteConnection`` closes stdout alone (the reader of
our output sees its end) and reading goes on. Any other protocol is disconnected at
the end of stdin, after what it wrote has gone out. A reader of our stdout that goes
away closes the connection too (or, for a half-closeable protocol, is reported with
``writeConnectionLost``).

stdin and stdout may be pipes, terminals, sockets or regular files (``prog < file``,
``prog > file``). Regular files and /dev/null cannot be watched by epoll (nor by
asyncio's and uvloop's loops on Linux); torsion then reads or writes them once per
pass of the loop, which never blocks for long, where Twisted blocks on them.

When StandardIO closes stdin or stdout (0, 1 or 2), it puts /dev/null in its place
instead of leaving the number free, so that a later ``print`` cannot land in some
other file that reuses descriptor 1; other descriptors are closed. The blocking mode
that StandardIO changed is put back first (a terminal is shared with the shell).
Tests: tests/internet/test_stdio.py (child programs on every reactor, through pipes,
a pty and files).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.address import PipeAddress
from torsion.internet.fdesc import ProcessReader, ProcessWriter
from torsion.internet.interfaces import (
    IConsumer,
    IHalfCloseableProtocol,
    IPushProducer,
    ITransport,
)
from torsion.internet.tcp import _logPrefixOf
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["PipeAddress", "StandardIO"]


@implementer(ITransport, IConsumer, IPushProducer)
class StandardIO:
    """The transport of ``proto`` on descriptors ``stdin`` and ``stdout``.

    Args:
        proto: the protocol to connect (``makeConnection`` is called at once).
        stdin: the descriptor to read (0).
        stdout: the descriptor to write (1).
        reactor: the reactor to run in (default: the global one).
    """

    def __init__(self, proto: Any, stdin: int = 0, stdout: int = 1, reactor: Any = None) -> None:
        if reactor is None:
            from torsion.internet import reactor
        self.protocol = proto
        self.disconnecting = False
        self.disconnected = False
        self._writeClosing = False
        self._lostReason: BaseException | None = None
        # The blocking mode each descriptor had, put back when it is released.
        self._blocking = {fd: os.get_blocking(fd) for fd in (stdin, stdout)}
        self._writer: ProcessWriter | None = ProcessWriter(
            reactor, self, "write", stdout, closeDescriptor=self._release
        )
        self._reader: ProcessReader | None = ProcessReader(
            reactor, self, "read", stdin, closeDescriptor=self._release
        )
        self._reader.startReading()
        try:
            proto.makeConnection(self)
        except Exception:
            log.err(None, f"Error in {type(proto).__name__}.connectionMade; closing stdio")
            self.loseConnection()

    def logPrefix(self) -> str:
        """Return the protocol's log prefix."""
        return _logPrefixOf(self.protocol)

    def __repr__(self) -> str:
        return f"<StandardIO of {type(self.protocol).__name__}>"

    def _release(self, fd: int) -> None:
        """Give ``fd`` its blocking mode back, then replace (0-2) or close it."""
        try:
            os.set_blocking(fd, self._blocking.get(fd, True))
        except OSError:
            pass
        if fd > 2:
            os.close(fd)
            return
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)

    # -- what the pipes report ----------------------------------------------------------

    def childDataReceived(self, name: str, data: bytes) -> None:
        """stdin delivered ``data``."""
        self.protocol.dataReceived(data)

    def childConnectionLost(self, name: str, reason: Failure) -> None:
        """stdin ('read') or stdout ('write') is closed."""
        if not isinstance(reason.value, error.ConnectionDone) and self._lostReason is None:
            self._lostReason = reason.value
        if name == "read":
            self._reader = None
            if not self.disconnecting:
                self._readConnectionLost()
        else:
            self._writer = None
            if not self.disconnecting:
                self._writeConnectionLost()
        self._checkDone()

    def _readConnectionLost(self) -> None:
        protocol = self.protocol
        if not IHalfCloseableProtocol.providedBy(protocol):
            self.loseConnection()
            return
        try:
            protocol.readConnectionLost()
        except Exception:
            log.err(None, f"Error in {type(protocol).__name__}.readConnectionLost; closing it")
            self.loseConnection()

    def _writeConnectionLost(self) -> None:
        protocol = self.protocol
        if not IHalfCloseableProtocol.providedBy(protocol):
            if not self._writeClosing:
                self.loseConnection()  # The reader of our output went away.
            return
        try:
            protocol.writeConnectionLost()
        except Exception:
            log.err(None, f"Error in {type(protocol).__name__}.writeConnectionLost; closing it")
            self.loseConnection()

    def _checkDone(self) -> None:
        if self._reader is not None or self._writer is not None or self.disconnected:
            return
        self.disconnected = True
        reason = self._lostReason if self._lostReason is not None else error.ConnectionDone()
        try:
            self.protocol.connectionLost(Failure(reason))
        except Exception:
            log.err(None, f"Error in {type(self.protocol).__name__}.connectionLost")

    # -- ITransport ---------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write ``data`` to stdout (dropped once stdout is closed)."""
        if self._writer is not None:
            self._writer.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """Write each of ``data`` to stdout (dropped once stdout is closed)."""
        if self._writer is not None:
            self._writer.writeSequence(data)

    def loseConnection(self) -> None:
        """Stop reading stdin, and close both once what was written has gone out."""
        if self.disconnecting:
            return
        self.disconnecting = True
        if self._reader is not None:
            self._reader.loseConnection()
        if self._writer is not None:
            self._writer.loseConnection()
        self._checkDone()

    def loseWriteConnection(self) -> None:
        """Close stdout once what was written has gone out; go on reading stdin."""
        self._writeClosing = True
        if self._writer is not None:
            self._writer.loseConnection()

    def getPeer(self) -> PipeAddress:
        """Return the address of the other end: a pipe has none."""
        return PipeAddress()

    def getHost(self) -> PipeAddress:
        """Return the address of this end: a pipe has none."""
        return PipeAddress()

    # -- stdout as a consumer, stdin as a producer --------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Feed stdout from ``producer`` (stopped at once if stdout is closed).

        Raises:
            RuntimeError: if a producer is registered already.
        """
        if self._writer is None:
            producer.stopProducing()
        else:
            self._writer.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        """Forget stdout's producer."""
        if self._writer is not None:
            self._writer.unregisterProducer()

    def pauseProducing(self) -> None:
        """Stop reading stdin until ``resumeProducing``."""
        if self._reader is not None:
            self._reader.pauseProducing()

    def resumeProducing(self) -> None:
        """Read stdin again."""
        if self._reader is not None:
            self._reader.resumeProducing()

    def stopProducing(self) -> None:
        """Close (as ``loseConnection``)."""
        self.loseConnection()
