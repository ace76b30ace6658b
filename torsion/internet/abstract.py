"""FileDescriptor: the buffered, flow-controlled base of every selectable transport.

It owns the write buffer (appends are cheap; the loop sends what was written during
one pass in a single batch at the end of that pass, with no quadratic copying, and
watches for writability only when the kernel cannot take it all), closes only once that buffer has
drained, and does producer/consumer flow control: a registered push producer is paused
when the buffer passes ``bufferSize`` bytes and resumed when it drains, a pull producer
is asked for more whenever the buffer is empty. The transport itself is a push
producer: ``pauseProducing`` stops reading from the peer.
Tests: tests/internet/test_tcp.py (through real TCP connections).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IConsumer,
    IPushProducer,
    IReadWriteDescriptor,
)
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["FileDescriptor", "sendAtOnce", "stopListeningOnce", "stoppedListening"]


def _asBytes(data: object) -> bytes:
    """Return bytes-like ``data`` as bytes; anything else is the caller's mistake."""
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    hint = " (encode text first, for example data.encode('utf-8'))" if isinstance(data, str) else ""
    raise TypeError(f"transports send bytes, not {type(data).__name__}{hint}")


def sendAtOnce(transport: object) -> bool:
    """Turn Nagle's algorithm off on ``transport`` if it is TCP (or wraps TCP, as TLS
    does); return whether it could.

    For protocols that write a whole message per pass of the reactor and then wait
    for an answer or for the peer to open a window: with Nagle on, a small message
    sent while an earlier one is unacknowledged waits for the peer's delayed ACK
    (tens of milliseconds), which stalls a request/response or flow-controlled
    exchange for no gain, since torsion already sends what a pass wrote in one go.
    """
    setTcpNoDelay = getattr(transport, "setTcpNoDelay", None)
    if setTcpNoDelay is None:
        return False
    try:
        setTcpNoDelay(True)
    except OSError:  # not a TCP socket after all, or already closed
        return False
    return True


def stopListeningOnce(port: Any, close: Callable[[], object] | None = None) -> Deferred[None]:
    """A port's ``stopListening``: the same Deferred however often it is asked, fired
    at once if the port is not open, else when its ``connectionLost`` calls
    `stoppedListening`. ``close`` starts the closing; by default the port stops
    reading and its ``_disconnectNow`` closes it on a later pass, so that a stop asked
    for from inside the port's own event does not close it under that event."""
    if port._stoppedDeferred is not None:
        stopped: Deferred[None] = port._stoppedDeferred
        return stopped
    result: Deferred[None] = Deferred()
    port._stoppedDeferred = result
    if not port.connected:
        result.callback(None)
        return result
    port.disconnecting = True
    if close is None:
        port.stopReading()
        port.reactor.callLater(0, port._disconnectNow, error.ConnectionDone())
    else:
        close()
    return result


def stoppedListening(port: Any) -> None:
    """The port is closed: fire what `stopListeningOnce` gave (once)."""
    if port._stoppedDeferred is None:
        port._stoppedDeferred = Deferred()
    if not port._stoppedDeferred.called:
        port._stoppedDeferred.callback(None)


def attachProducer(consumer: Any, producer: Any, streaming: bool) -> bool:
    """The checks and bookkeeping every transport's ``registerProducer`` starts with.

    Returns False (having stopped ``producer``) if ``consumer`` is disconnected already,
    else True with the producer recorded as ``consumer.producer``, not paused.

    Raises:
        RuntimeError: if ``consumer`` has a producer registered already.
    """
    if consumer.producer is not None:
        raise RuntimeError(
            f"Cannot register producer {producer!r}, because producer "
            f"{consumer.producer!r} was never unregistered; call unregisterProducer first."
        )
    if consumer.disconnected:
        producer.stopProducing()
        return False
    consumer.producer = producer
    consumer.streamingProducer = streaming
    consumer.producerPaused = False
    return True


@implementer(IPushProducer, IReadWriteDescriptor, IConsumer)
class FileDescriptor:
    """A transport over one file descriptor, watched by ``reactor``.

    Subclasses provide ``fileno()``, ``doRead()``, ``writeSomeData(data)`` (send what
    the OS takes, return the count or an exception meaning the connection is gone) and
    ``_closeWriteConnection()``; they extend ``connectionLost`` to close the descriptor.
    """

    __slots__ = (
        "__weakref__",
        "_current",
        "_offset",
        "_pending",
        "_pendingSize",
        "_watchingWrites",
        "_writeDisconnected",
        "_writeDisconnecting",
        "connected",
        "disconnected",
        "disconnecting",
        "producer",
        "producerPaused",
        "reactor",
        "streamingProducer",
    )

    # A registered push producer is paused when more than this many bytes wait to go.
    bufferSize = 2**16

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.connected = False
        self.disconnected = False
        self._watchingWrites = False
        self.disconnecting = False
        self._writeDisconnecting = False
        self._writeDisconnected = False
        self._pending: list[bytes] = []
        self._pendingSize = 0
        self._current = b""
        self._offset = 0
        self.producer: Any = None
        self.streamingProducer = False
        self.producerPaused = False

    def fileno(self) -> int:
        """Return the descriptor, or -1 once it is closed."""
        return -1

    def logPrefix(self) -> str:
        """Return the log system name for what happens on this descriptor."""
        return "-"

    # -- reading and writing ----------------------------------------------------------

    def doRead(self) -> object:
        """Read what is available (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must implement doRead")

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        """Send what the OS takes of ``data``; return the count (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must implement writeSomeData")

    def _closeWriteConnection(self) -> None:
        """Shut down the sending half (subclasses)."""

    def startReading(self) -> None:
        """Ask the reactor to call ``doRead`` when data arrives."""
        self.reactor.addReader(self)

    def stopReading(self) -> None:
        """Stop reading (the peer's data waits in the kernel)."""
        self.reactor.removeReader(self)

    def startWriting(self) -> None:
        """Ask the reactor to call ``doWrite`` when the descriptor can take data."""
        self._watchingWrites = True
        self.reactor.addWriter(self)

    def stopWriting(self) -> None:
        """Stop watching for writability."""
        # Most sends complete at once, without writability ever being watched: skip
        # the reactor call then (doWrite calls this after every complete send).
        if self._watchingWrites:
            self._watchingWrites = False
            self.reactor.removeWriter(self)

    def bufferedSize(self) -> int:
        """Return how many bytes wait to be sent."""
        return self._pendingSize + len(self._current) - self._offset

    def write(self, data: bytes) -> None:
        """Queue ``data`` to be sent; it goes out at the end of this pass of the loop.

        Raises:
            TypeError: if ``data`` is not bytes (text must be encoded first).
        """
        if not isinstance(data, bytes):
            data = _asBytes(data)
        if not self.connected or self._writeDisconnected or not data:
            return
        if not self._current:
            # The buffer is empty: this chunk heads it. The reactor sends what was
            # written during this pass of the loop in one go at its end, and watches
            # for writability only if the kernel cannot take it all.
            self._current = data
            self.reactor._scheduleWrite(self)
        else:
            self._pending.append(data)
            self._pendingSize += len(data)
        if self.producer is not None:
            self._maybePauseProducer()

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """Queue every bytes object of ``iovec``, in order, as one batch.

        Raises:
            TypeError: if an element is not bytes; nothing of ``iovec`` is queued then.
        """
        chunks = [data if isinstance(data, bytes) else _asBytes(data) for data in iovec]
        chunks = [data for data in chunks if data]
        if not self.connected or self._writeDisconnected or not chunks:
            return
        if not self._current:
            self._current = chunks.pop(0)
            self.reactor._scheduleWrite(self)
        self._pending.extend(chunks)
        self._pendingSize += sum(map(len, chunks))
        self._maybePauseProducer()

    def _maybePauseProducer(self) -> None:
        if (
            self.producer is not None
            and self.streamingProducer
            and not self.producerPaused
            and self.bufferedSize() > self.bufferSize
        ):
            self.producerPaused = True
            self.producer.pauseProducing()

    def doWrite(self) -> object:
        """Send as much buffered data as the OS takes; finish closing once it is all out.

        The buffer is a head chunk (``_current``, sent from ``_offset`` on) and the
        chunks written after it (``_pending``). What the kernel does not take stays
        buffered, and writability is watched until it does (the commonest case, one
        chunk taken whole, touches no poller at all).

        Returns:
            None, or the reason the connection is gone.
        """
        current = self._current
        while current:
            offset = self._offset
            if not offset and self._pendingSize:
                # What was written after the head goes out in the same send. Only a
                # head not yet partly sent is joined, so no byte is copied twice.
                pending = self._pending
                pending.insert(0, current)
                current = self._current = b"".join(pending)
                pending.clear()
                self._pendingSize = 0
            sent = self.writeSomeData(memoryview(current)[offset:] if offset else current)
            if isinstance(sent, BaseException):
                return sent
            offset += sent
            if offset < len(current):
                # The kernel is full: go on once it can take more.
                self._offset = offset
                self._waitUntilWritable()
                return None
            self._offset = 0
            if not self._pendingSize:
                self._current = b""
                break
            current = self._current = self._pending.pop(0)
            self._pendingSize -= len(current)
        if self._watchingWrites:
            self.stopWriting()
        if self.producer is not None and (not self.streamingProducer or self.producerPaused):
            self.producerPaused = False
            self.producer.resumeProducing()
            return None
        if self.disconnecting:
            return self._postLoseConnection()
        if self._writeDisconnecting:
            self._writeDisconnected = True
            self._closeWriteConnection()
        return None

    def _waitUntilWritable(self) -> None:
        if not self._watchingWrites and self.connected:
            self.startWriting()

    def _postLoseConnection(self) -> object:
        """The buffer has drained after loseConnection: the reason to close with."""
        return error.ConnectionDone()

    # -- closing ----------------------------------------------------------------------

    def loseConnection(self) -> None:
        """Close once everything written has been sent (and a producer unregistered)."""
        if self.connected and not self.disconnecting:
            if self._writeDisconnected:
                self.stopReading()
                self.stopWriting()
                self.reactor.callLater(0, self._disconnectNow, error.ConnectionDone())
                self.disconnecting = True
                return
            self.stopReading()
            self.startWriting()
            self.disconnecting = True

    def loseWriteConnection(self) -> None:
        """Half-close: stop sending (after the buffer drains) but go on reading."""
        self._writeDisconnecting = True
        self.startWriting()

    def _disconnectNow(self, reason: BaseException) -> None:
        if not self.disconnected:
            self.reactor.removeReader(self)
            self.reactor.removeWriter(self)
            # Often run from a timed call, outside the reactor's per-descriptor log
            # context: set it, so what connectionLost logs carries the prefix.
            log.callWithLogger(self, self.connectionLost, Failure(reason))

    def connectionLost(self, reason: Any) -> None:
        """The descriptor is closed: stop watching it and stop any producer."""
        self.disconnected = True
        self.connected = False
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                producer.stopProducing()
            except Exception:
                # The descriptor must still close and its protocol hear of it.
                log.err(None, f"Error in {type(producer).__name__}.stopProducing")
        self.stopReading()
        self.stopWriting()
        self._pending = []
        self._pendingSize = 0
        self._current = b""
        self._offset = 0

    # -- consumer -----------------------------------------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Take data from ``producer`` (``streaming``: a push producer, else pull).

        Raises:
            RuntimeError: if a producer is registered already.
        """
        if not attachProducer(self, producer, streaming):
            return
        if not streaming:
            producer.resumeProducing()
        else:
            self._maybePauseProducer()

    def unregisterProducer(self) -> None:
        """Forget the producer (a pending loseConnection can now complete)."""
        self.producer = None
        self.producerPaused = False
        if self.connected and self.disconnecting:
            self.startWriting()

    # -- producer -----------------------------------------------------------------------

    def pauseProducing(self) -> None:
        """Stop reading from the peer until ``resumeProducing``."""
        self.stopReading()

    def resumeProducing(self) -> None:
        """Read from the peer again."""
        if self.connected and not self.disconnecting:
            self.startReading()

    def stopProducing(self) -> None:
        """Close the connection."""
        self.loseConnection()
