"""SSHChannel: one channel of an SSH connection, with its flow control in both
directions (torsion.conch.ssh.channel).

Sending: the peer grants us a window of bytes. ``write`` sends what fits, in packets
of at most the peer's maximum size, and keeps the rest until the peer adjusts the
window; while it waits, ``stopWriting`` is called and a registered producer (the
process or socket feeding the channel) is paused, so nothing piles up here without
bound. ``startWriting`` and the producer's resume come when the window opens again.

Receiving: we grant the peer ``localWindowSize`` bytes. The window is topped up as
data is consumed, which by default is as soon as ``dataReceived`` returns; a channel
whose consumer is slow calls ``pauseProducing`` (the channel is the push producer of
whatever it feeds) and no more window is granted until ``resumeProducing``. So a
slow reader on our side holds the peer back instead of making us buffer. A peer that
sends beyond the window breaks the protocol and is disconnected.
Tests: tests/conch/test_connection.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.internet.interfaces import IConsumer, IPushProducer
from torsion.logger import Logger

__all__ = ["SSHChannel"]


@implementer(IPushProducer, IConsumer)
class SSHChannel:
    """Twisted's SSHChannel; override the event methods (``channelOpen``,
    ``dataReceived``, ``extReceived``, ``eofReceived``, ``closeReceived``,
    ``closed``) and ``request_<type>`` methods for channel requests."""

    name: bytes = b""
    localWindowSize = 2 * 1024 * 1024
    localMaxPacket = 32768
    _log = Logger()

    def __init__(
        self,
        localWindow: int = 0,
        localMaxPacket: int = 0,
        remoteWindow: int = 0,
        remoteMaxPacket: int = 0,
        conn: Any = None,
        data: bytes | None = None,
        avatar: Any = None,
    ) -> None:
        self.localWindowSize = localWindow or self.localWindowSize
        self.localWindowLeft = self.localWindowSize
        self.localMaxPacket = localMaxPacket or self.localMaxPacket
        self.remoteWindowLeft = remoteWindow
        self.remoteMaxPacket = remoteMaxPacket
        self.areWriting = True
        self.conn = conn
        self.data = data
        self.avatar = avatar
        self.specificData = b""
        self.buf = b""
        self.extBuf: list[tuple[int, bytes]] = []
        self.closing = False
        self.localClosed = False
        self.remoteClosed = False
        self.id: int | None = None
        self.producer: Any = None
        self.readingPaused = False
        self._unacknowledged = 0  # bytes consumed but not yet granted back

    def __repr__(self) -> str:
        name = self.name.decode(errors="replace")
        return f"<SSHChannel {name} (lw {self.localWindowLeft} rw {self.remoteWindowLeft})>"

    def logPrefix(self) -> str:
        where = self.conn.logPrefix() if self.conn else "?"
        return f"SSHChannel {self.name.decode(errors='replace')} ({self.id}) on {where}"

    # -- events (override) -----------------------------------------------------------------

    def channelOpen(self, specificData: bytes) -> None:
        """The channel is open (the peer confirmed it, or we accepted the peer's)."""

    def openFailed(self, reason: Any) -> None:
        """The peer refused to open the channel (``reason`` is a ConchError)."""
        self._log.info("{channel}: open failed: {reason}", channel=self, reason=reason)

    def dataReceived(self, data: bytes) -> None:
        """Data from the peer."""

    def extReceived(self, dataType: int, data: bytes) -> None:
        """Extended data (stderr is type 1) from the peer."""

    def eofReceived(self) -> None:
        """The peer will send no more data."""

    def closeReceived(self) -> None:
        """The peer closed the channel: close ours too. What still waited for the
        peer's window can no longer be sent, and is dropped."""
        self.buf, self.extBuf = b"", []
        self.loseConnection()

    def closed(self) -> None:
        """The channel is closed both ways."""

    def requestReceived(self, requestType: bytes, data: bytes) -> Any:
        """A channel request: ``request_<type>(data)``; false (refused) if there is none."""
        name = requestType.decode("ascii", "replace").replace("-", "_")
        handler = getattr(self, f"request_{name}", None)
        if handler is None:
            return False
        return handler(data)

    # -- sending -------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data``; what the peer's window cannot take yet waits here."""
        if self.buf:
            self.buf += data
            return
        allowed = min(len(data), self.remoteWindowLeft)
        if allowed < len(data):
            self.buf = data[allowed:]
            data = data[:allowed]
            if self.areWriting:
                self.areWriting = False
                self.stopWriting()
        step = max(self.remoteMaxPacket, 1)
        if len(data) <= step:
            self.conn.sendData(self, data)
        else:
            view = memoryview(data)  # packets cut out of data, not copied from it
            for start in range(0, len(data), step):
                self.conn.sendData(self, view[start : start + step])
        self.remoteWindowLeft -= len(data)
        if self.closing and not self.buf and not self.extBuf:
            self.loseConnection()

    def writeExtended(self, dataType: int, data: bytes) -> None:
        """Send extended data (``dataType`` 1 is stderr), under the same window."""
        if self.extBuf:
            self.extBuf.append((dataType, data))
            return
        allowed = min(len(data), self.remoteWindowLeft)
        if allowed < len(data):
            self.extBuf.append((dataType, data[allowed:]))
            data = data[:allowed]
            if self.areWriting:
                self.areWriting = False
                self.stopWriting()
        step = max(self.remoteMaxPacket, 1)
        for start in range(0, len(data), step):
            self.conn.sendExtendedData(self, dataType, data[start : start + step])
        self.remoteWindowLeft -= len(data)
        if self.closing and not self.buf and not self.extBuf:
            self.loseConnection()

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def addWindowBytes(self, data: int) -> None:
        """The peer opened its window by ``data`` bytes: send what waited."""
        self.remoteWindowLeft += data
        if self.buf:
            pending, self.buf = self.buf, b""
            self.write(pending)
        if self.extBuf and not self.buf:
            waiting, self.extBuf = self.extBuf, []
            for dataType, chunk in waiting:
                self.writeExtended(dataType, chunk)
        if not self.areWriting and not self.closing and not self.buf and not self.extBuf:
            self.areWriting = True
            self.startWriting()

    def stopWriting(self) -> None:
        """The peer's window is full: pause whatever feeds this channel."""
        if self.producer is not None:
            self.producer.pauseProducing()

    def startWriting(self) -> None:
        """The peer's window is open again."""
        if self.producer is not None:
            self.producer.resumeProducing()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer
        if not self.areWriting:
            producer.pauseProducing()

    def unregisterProducer(self) -> None:
        self.producer = None

    def loseConnection(self) -> None:
        """Close the channel once what is waiting to be sent has gone."""
        self.closing = True
        if not self.buf and not self.extBuf and self.conn is not None:
            self.conn.sendClose(self)

    def getPeer(self) -> Any:
        return self.conn.transport.transport.getPeer()

    def getHost(self) -> Any:
        return self.conn.transport.transport.getHost()

    # -- receiving: the window we grant ----------------------------------------------------

    def pauseProducing(self) -> None:
        """Grant the peer no more window until resumeProducing (our reader is slow)."""
        self.readingPaused = True

    def resumeProducing(self) -> None:
        self.readingPaused = False
        self._grantWindow()

    def stopProducing(self) -> None:
        self.loseConnection()

    def _consumed(self, size: int) -> None:
        """``size`` bytes were handed to dataReceived/extReceived."""
        self._unacknowledged += size
        if not self.readingPaused:
            self._grantWindow()

    def _grantWindow(self) -> None:
        # Top up once the peer has used half the window: big steps, few adjust packets.
        if self._unacknowledged and self.localWindowLeft <= self.localWindowSize // 2:
            grant, self._unacknowledged = self._unacknowledged, 0
            self.localWindowLeft += grant
            if self.conn is not None and not self.localClosed:
                self.conn.adjustWindow(self, grant)
