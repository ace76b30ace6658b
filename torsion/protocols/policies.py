"""Policies around any protocol: wrappers that limit, throttle, time out and log connections.

A ``WrappingFactory`` stands in front of a real factory: each connection gets a
``ProtocolWrapper`` that is the protocol to the transport and the transport to the
real protocol, so a policy sees every byte and every event without the protocol
knowing. The wrapper passes on the interfaces of both sides (a TCP transport's
half-close, producer and consumer, TLS; a protocol's IHalfCloseableProtocol or
IFileDescriptorReceiver), and the per-chunk calls that a policy does not need go
straight to the wrapped side (bound once per connection), so an unused policy costs
nothing per byte.

The policies (Twisted's names and signatures):

- ``ThrottlingFactory``: at most ``maxConnectionCount`` connections, and read and write
  bandwidth limits (bytes per second, checked every second on the reactor's clock).
- ``TimeoutFactory`` and ``TimeoutMixin``: drop connections idle for too long.
- ``LimitTotalConnectionsFactory``: a factory that serves at most ``connectionLimit``
  connections at once (the rest get ``overflowProtocol``, or are refused).
- ``LimitConnectionsByPeer``: at most ``maxConnectionsPerPeer`` from one host.
- ``SpewingFactory`` and ``TrafficLoggingFactory``: log every byte (to the log, or to a
  file per connection), for debugging.

Timed policies take a ``clock`` (any IReactorTime, such as task.Clock in tests); without
one they use the global reactor, and ``callLater`` can be overridden as in Twisted.
Tests: tests/protocols/test_policies.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import IO, Any

from zope.interface import implementer

from torsion.internet.interfaces import IPushProducer
from torsion.internet.protocol import ServerFactory
from torsion.logger import Logger
from torsion.protocols._wrapping import ProtocolWrapper, WrappingFactory, _callLater, _cancel

__all__ = [
    "LimitConnectionsByPeer",
    "LimitTotalConnectionsFactory",
    "ProtocolWrapper",
    "SpewingFactory",
    "SpewingProtocol",
    "ThrottlingFactory",
    "ThrottlingProtocol",
    "TimeoutFactory",
    "TimeoutMixin",
    "TimeoutProtocol",
    "TrafficLoggingFactory",
    "TrafficLoggingProtocol",
    "WrappingFactory",
]

_log = Logger()


# -- throttling ---------------------------------------------------------------------------

_ASKED = 1  # Paused by whoever consumes what the wrapped connection reads.
_THROTTLED = 2  # Paused by the read limit.


@implementer(IPushProducer)
class _WriteGate:
    """Stands between a transport and the producer registered through a ThrottlingProtocol.

    The producer is paused while the transport's buffer is full *or* writes are
    throttled, and resumed only when neither holds, so that one cause of a pause
    does not lift the other. A pull producer asked for more while throttled is asked
    once the throttle lifts.
    """

    __slots__ = ("_bufferFull", "_streaming", "_throttled", "_wantsMore", "producer")

    def __init__(self, producer: Any, streaming: bool) -> None:
        self.producer = producer
        self._streaming = streaming
        self._bufferFull = False
        self._throttled = False
        self._wantsMore = False

    def pauseProducing(self) -> None:
        self._bufferFull = True
        if not self._throttled:
            self.producer.pauseProducing()

    def resumeProducing(self) -> None:
        if not self._streaming:
            if self._throttled:
                self._wantsMore = True
            else:
                self.producer.resumeProducing()
            return
        self._bufferFull = False
        if not self._throttled:
            self.producer.resumeProducing()

    def stopProducing(self) -> None:
        self.producer.stopProducing()

    def throttle(self) -> None:
        if self._throttled:
            return
        self._throttled = True
        if self._streaming and not self._bufferFull:
            self.producer.pauseProducing()

    def unthrottle(self) -> None:
        if not self._throttled:
            return
        self._throttled = False
        if self._streaming:
            if not self._bufferFull:
                self.producer.resumeProducing()
        elif self._wantsMore:
            self._wantsMore = False
            self.producer.resumeProducing()


class ThrottlingProtocol(ProtocolWrapper):
    """Counts the bytes of its connection for a ThrottlingFactory, and obeys its throttles.

    Reads are throttled by pausing the transport (and kept paused while whoever the
    wrapped protocol feeds has paused it too); writes by pausing the producer that the
    wrapped protocol registered, so throttling writes needs a producer: a protocol
    that writes without one is counted, not held back.
    """

    def __init__(self, factory: Any, wrappedProtocol: Any) -> None:
        super().__init__(factory, wrappedProtocol)
        self.producer: Any = None
        self._gate: _WriteGate | None = None
        self._readPauses = 0

    def write(self, data: bytes) -> None:
        """Count ``data`` and send it."""
        self.factory.registerWritten(len(data))
        self.transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """Count the bytes of ``data`` and send them."""
        chunks = list(data)
        self.factory.registerWritten(sum(map(len, chunks)))
        self.transport.writeSequence(chunks)

    def dataReceived(self, data: bytes) -> None:
        """Count ``data`` and pass it on."""
        self.factory.registerRead(len(data))
        self.wrappedProtocol.dataReceived(data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Register ``producer`` with the transport, through the write throttle."""
        gate = _WriteGate(producer, streaming)
        self.transport.registerProducer(gate, streaming)
        self.producer, self._gate = producer, gate

    def unregisterProducer(self) -> None:
        """Unregister the producer."""
        self.producer = self._gate = None
        self.transport.unregisterProducer()

    # The consumer side: whoever the wrapped protocol feeds pauses reading through us.

    def pauseProducing(self) -> None:
        """Stop reading (until ``resumeProducing``; a read throttle may hold it longer)."""
        self._pauseReads(_ASKED)

    def resumeProducing(self) -> None:
        """Read again, unless the read throttle holds it."""
        self._resumeReads(_ASKED)

    def stopProducing(self) -> None:
        """Close the transport."""
        self.transport.stopProducing()

    def _pauseReads(self, cause: int) -> None:
        before = self._readPauses
        self._readPauses = before | cause
        if not before and self.connected:
            self.transport.pauseProducing()

    def _resumeReads(self, cause: int) -> None:
        if not self._readPauses & cause:
            return
        self._readPauses &= ~cause
        if not self._readPauses and self.connected:
            self.transport.resumeProducing()

    # The factory's throttles.

    def throttleReads(self) -> None:
        """Stop reading until ``unthrottleReads``."""
        self._pauseReads(_THROTTLED)

    def unthrottleReads(self) -> None:
        """Lift the read throttle."""
        self._resumeReads(_THROTTLED)

    def throttleWrites(self) -> None:
        """Pause the registered producer until ``unthrottleWrites``."""
        if self._gate is not None:
            self._gate.throttle()

    def unthrottleWrites(self) -> None:
        """Lift the write throttle."""
        if self._gate is not None:
            self._gate.unthrottle()


class ThrottlingFactory(WrappingFactory):
    """Limits the connections of ``wrappedFactory``: their number, and their bandwidth.

    Every second the bytes read (and written) in that second by all its connections
    are compared with ``readLimit`` (``writeLimit``), in bytes per second; over the
    limit, every connection is throttled for as long as the excess would take at the
    limit (``read / readLimit - 1`` seconds). A connection beyond
    ``maxConnectionCount`` is refused (logged).

    Args:
        wrappedFactory: the factory whose connections are limited.
        maxConnectionCount: the most connections at once.
        readLimit: bytes per second read, over all connections; None for no limit.
        writeLimit: bytes per second written (through producers); None for no limit.
        clock: the IReactorTime to check on (the global reactor by default).

    Raises:
        ValueError: a limit that is not positive.
    """

    protocol = ThrottlingProtocol

    def __init__(
        self,
        wrappedFactory: Any,
        maxConnectionCount: int = sys.maxsize,
        readLimit: float | None = None,
        writeLimit: float | None = None,
        *,
        clock: Any = None,
    ) -> None:
        for name, value in (("readLimit", readLimit), ("writeLimit", writeLimit)):
            if value is not None and not value > 0:
                raise ValueError(
                    f"{name} is bytes per second and must be more than 0 (or None for no "
                    f"limit), not {value!r}"
                )
        if maxConnectionCount < 0:
            raise ValueError(f"maxConnectionCount must be 0 or more, not {maxConnectionCount!r}")
        super().__init__(wrappedFactory)
        self.connectionCount = 0
        self.maxConnectionCount = maxConnectionCount
        self.readLimit = readLimit
        self.writeLimit = writeLimit
        self.readThisSecond = 0
        self.writtenThisSecond = 0
        self.clock = clock
        self.unthrottleReadsID: Any = None
        self.checkReadBandwidthID: Any = None
        self.unthrottleWritesID: Any = None
        self.checkWriteBandwidthID: Any = None

    def callLater(self, period: float, func: Callable[[], object]) -> Any:
        """Schedule ``func`` in ``period`` seconds (on ``clock``, or the global reactor)."""
        return _callLater(self, period, func)

    def registerWritten(self, length: int) -> None:
        """Count ``length`` bytes written."""
        self.writtenThisSecond += length

    def registerRead(self, length: int) -> None:
        """Count ``length`` bytes read."""
        self.readThisSecond += length

    def _unthrottleLater(self, pending: Any, delay: float, unthrottle: Callable[[], None]) -> Any:
        # Data still in flight when the throttle began can put a second throttle on
        # top of the first: the later end of the two wins.
        if pending is not None and pending.active():
            if pending.getTime() >= pending.seconds() + delay:
                return pending
            pending.cancel()
        return self.callLater(delay, unthrottle)

    def checkReadBandwidth(self) -> None:
        """Throttle reads if the last second's reading went over ``readLimit``."""
        limit = self.readLimit
        if limit is not None and self.readThisSecond > limit:
            self.throttleReads()
            self.unthrottleReadsID = self._unthrottleLater(
                self.unthrottleReadsID, self.readThisSecond / limit - 1.0, self.unthrottleReads
            )
        self.readThisSecond = 0
        self.checkReadBandwidthID = self.callLater(1, self.checkReadBandwidth)

    def checkWriteBandwidth(self) -> None:
        """Throttle writes if the last second's writing went over ``writeLimit``."""
        limit = self.writeLimit
        if limit is not None and self.writtenThisSecond > limit:
            self.throttleWrites()
            self.unthrottleWritesID = self._unthrottleLater(
                self.unthrottleWritesID,
                self.writtenThisSecond / limit - 1.0,
                self.unthrottleWrites,
            )
        self.writtenThisSecond = 0
        self.checkWriteBandwidthID = self.callLater(1, self.checkWriteBandwidth)

    def throttleReads(self) -> None:
        """Stop every connection reading."""
        _log.debug("Throttling reads on {factory}", factory=self)
        for p in list(self.protocols):
            p.throttleReads()

    def unthrottleReads(self) -> None:
        """Let every connection read again."""
        self.unthrottleReadsID = None
        for p in list(self.protocols):
            p.unthrottleReads()

    def throttleWrites(self) -> None:
        """Pause every connection's producer."""
        _log.debug("Throttling writes on {factory}", factory=self)
        for p in list(self.protocols):
            p.throttleWrites()

    def unthrottleWrites(self) -> None:
        """Resume every connection's producer."""
        self.unthrottleWritesID = None
        for p in list(self.protocols):
            p.unthrottleWrites()

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap a new connection, unless there are ``maxConnectionCount`` already."""
        if self.connectionCount >= self.maxConnectionCount:
            _log.info(
                "Max connection count reached! Refusing {peer} ({count} connections)",
                peer=addr,
                count=self.connectionCount,
            )
            return None
        protocol = WrappingFactory.buildProtocol(self, addr)
        if protocol is None:
            return None
        self.connectionCount += 1
        if self.connectionCount == 1:
            if self.readLimit is not None:
                self.checkReadBandwidth()
            if self.writeLimit is not None:
                self.checkWriteBandwidth()
        return protocol

    def unregisterProtocol(self, p: Any) -> None:
        """Forget a connection; with none left, stop checking (and lift any throttle)."""
        WrappingFactory.unregisterProtocol(self, p)
        self.connectionCount -= 1
        if self.connectionCount == 0:
            for name in (
                "unthrottleReadsID",
                "checkReadBandwidthID",
                "unthrottleWritesID",
                "checkWriteBandwidthID",
            ):
                _cancel(getattr(self, name))
                setattr(self, name, None)
            self.readThisSecond = self.writtenThisSecond = 0


# -- limits on the number of connections ----------------------------------------------------


class LimitConnectionsByPeer(WrappingFactory):
    """Refuses a connection from a host that has ``maxConnectionsPerPeer`` open already.

    Hosts are told apart by address (``addr.host`` for IP connections; the whole
    address for others, such as UNIX sockets).
    """

    maxConnectionsPerPeer = 5

    def __init__(self, wrappedFactory: Any, maxConnectionsPerPeer: int | None = None) -> None:
        super().__init__(wrappedFactory)
        if maxConnectionsPerPeer is not None:
            if maxConnectionsPerPeer < 1:
                raise ValueError(
                    f"maxConnectionsPerPeer must be 1 or more, not {maxConnectionsPerPeer!r}"
                )
            self.maxConnectionsPerPeer = maxConnectionsPerPeer
        self.peerConnections: dict[Any, int] = {}
        self._peerOf: dict[Any, Any] = {}

    def startFactory(self) -> None:
        """Start counting afresh."""
        self.peerConnections = {}
        self._peerOf = {}

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap a new connection, unless its host has too many already."""
        peer = getattr(addr, "host", addr)
        count = self.peerConnections.get(peer, 0)
        if count >= self.maxConnectionsPerPeer:
            _log.info(
                "Refusing a connection from {peer}: it has {count} open already",
                peer=peer,
                count=count,
            )
            return None
        protocol = WrappingFactory.buildProtocol(self, addr)
        if protocol is not None:
            self.peerConnections[peer] = count + 1
            self._peerOf[protocol] = peer
        return protocol

    def unregisterProtocol(self, p: Any) -> None:
        """Count the connection's host down."""
        WrappingFactory.unregisterProtocol(self, p)
        peer = self._peerOf.pop(p, None)
        if peer is None:
            return
        left = self.peerConnections.get(peer, 1) - 1
        if left > 0:
            self.peerConnections[peer] = left
        else:
            self.peerConnections.pop(peer, None)


class LimitTotalConnectionsFactory(ServerFactory):
    """A factory (subclass it, setting ``protocol``) serving ``connectionLimit`` at once.

    Past the limit, a connection gets ``overflowProtocol`` (say, one that writes "too
    busy" and closes) if it is set, else is refused. ``connectionCount`` counts every
    connection served, overflow ones included. None as ``connectionLimit``: no limit.
    """

    connectionCount = 0
    connectionLimit: int | None = None
    overflowProtocol: Any = None

    def buildProtocol(self, addr: Any) -> Any:
        """Build ``protocol`` (or ``overflowProtocol`` past the limit), wrapped to count it."""
        if self.connectionLimit is None or self.connectionCount < self.connectionLimit:
            wrapped = self.protocol()
        elif self.overflowProtocol is None:
            return None
        else:
            wrapped = self.overflowProtocol()
        wrapped.factory = self
        self.connectionCount += 1
        return ProtocolWrapper(self, wrapped)

    def registerProtocol(self, p: Any) -> None:
        """Counted already, when built."""

    def unregisterProtocol(self, p: Any) -> None:
        """A connection ended."""
        self.connectionCount -= 1


# -- idle timeouts ----------------------------------------------------------------------------


class TimeoutMixin:
    """Drops a protocol's connection after ``timeOut`` seconds without activity.

    Call ``setTimeout(seconds)`` (None turns it off) and ``resetTimeout()`` whenever
    there is activity (typically first thing in ``dataReceived``); override
    ``timeoutConnection`` to do something other than closing. ``callLater`` may be
    overridden (tests set it to a task.Clock's). ``resetTimeout`` only notes the
    time, so calling it on every chunk is cheap: the timer itself is moved when it
    comes due, which is when the idle time is checked.
    """

    timeOut: float | None = None
    _timeoutCall: Any = None
    _timeoutLastActivity = 0.0

    def callLater(self, period: float, func: Callable[[], object]) -> Any:
        """Schedule ``func`` in ``period`` seconds (on the global reactor)."""
        from torsion.internet import reactor

        clock: Any = reactor
        return clock.callLater(period, func)

    def resetTimeout(self) -> None:
        """There was activity: the idle time starts again from now."""
        call = self._timeoutCall
        if call is not None:
            self._timeoutLastActivity = call.seconds()

    def setTimeout(self, period: float | None) -> float | None:
        """Time out after ``period`` idle seconds from now (None: never); return the old."""
        previous, self.timeOut = self.timeOut, period
        call, self._timeoutCall = self._timeoutCall, None
        _cancel(call)
        if period is not None:
            call = self._timeoutCall = self.callLater(period, self._timeoutDue)
            self._timeoutLastActivity = call.seconds()
        return previous

    def _timeoutDue(self) -> None:
        call, period = self._timeoutCall, self.timeOut
        self._timeoutCall = None
        if call is None or period is None:
            return
        left = self._timeoutLastActivity + period - call.seconds()
        if left > 0:
            self._timeoutCall = self.callLater(left, self._timeoutDue)
            return
        self.timeoutConnection()

    def timeoutConnection(self) -> None:
        """The connection was idle for ``timeOut`` seconds: close it (override at will)."""
        transport = getattr(self, "transport", None)
        if transport is not None:
            transport.loseConnection()


class TimeoutProtocol(ProtocolWrapper):
    """Closes its connection after ``timeoutPeriod`` seconds without data either way.

    The timer starts when the protocol is made; bytes received or written reset it.
    ``timeoutFunc`` is what happens at the end (closing, unless overridden).
    """

    def __init__(self, factory: Any, wrappedProtocol: Any, timeoutPeriod: float | None) -> None:
        super().__init__(factory, wrappedProtocol)
        self.timeoutCall: Any = None
        self.timeoutPeriod: float | None = None
        self._lastActivity = 0.0
        # The timer's clock, once there is a timer (float() is 0.0 until then).
        self._now: Callable[[], float] = float
        self.setTimeout(timeoutPeriod)

    def setTimeout(self, timeoutPeriod: float | None = None) -> None:
        """Time out after ``timeoutPeriod`` idle seconds from now (None: never)."""
        self.cancelTimeout()
        self.timeoutPeriod = timeoutPeriod
        if timeoutPeriod is not None:
            call = self.timeoutCall = self.factory.callLater(timeoutPeriod, self._timeoutDue)
            self._now = call.seconds
            self._lastActivity = call.seconds()

    def cancelTimeout(self) -> None:
        """Stop the timer (there will be no timeout)."""
        call, self.timeoutCall = self.timeoutCall, None
        _cancel(call)

    def resetTimeout(self) -> None:
        """There was activity: the idle time starts again from now."""
        if self.timeoutCall is not None:
            self._lastActivity = self._now()

    def _timeoutDue(self) -> None:
        period = self.timeoutPeriod
        if self.timeoutCall is None or period is None:
            return
        left = self._lastActivity + period - self._now()
        if left > 0:
            self.timeoutCall = self.factory.callLater(left, self._timeoutDue)
            return
        self.timeoutCall = None
        self.timeoutFunc()

    def write(self, data: bytes) -> None:
        """Reset the timer and send ``data``."""
        if self.timeoutCall is not None:
            self._lastActivity = self._now()
        self.transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """Reset the timer and send ``data``."""
        if self.timeoutCall is not None:
            self._lastActivity = self._now()
        self.transport.writeSequence(data)

    def dataReceived(self, data: bytes) -> None:
        """Reset the timer and pass ``data`` on."""
        if self.timeoutCall is not None:
            self._lastActivity = self._now()
        self.wrappedProtocol.dataReceived(data)

    def connectionLost(self, reason: object = None) -> None:
        """Stop the timer, then as ProtocolWrapper."""
        self.cancelTimeout()
        super().connectionLost(reason)

    def timeoutFunc(self) -> None:
        """The connection was idle too long: close it (override to do otherwise)."""
        _log.info(
            "Closing {peer}: idle for {seconds} seconds",
            peer=self.transport.getPeer() if self.transport is not None else None,
            seconds=self.timeoutPeriod,
        )
        self.loseConnection()


class TimeoutFactory(WrappingFactory):
    """Wraps ``wrappedFactory``'s connections in TimeoutProtocol (idle ``timeoutPeriod``).

    Args:
        wrappedFactory: the factory whose connections time out.
        timeoutPeriod: idle seconds before a connection is closed (30 minutes).
        clock: the IReactorTime to time on (the global reactor by default).
    """

    protocol = TimeoutProtocol

    def __init__(
        self, wrappedFactory: Any, timeoutPeriod: float = 30 * 60, *, clock: Any = None
    ) -> None:
        if not timeoutPeriod > 0:
            raise ValueError(f"timeoutPeriod must be more than 0 seconds, not {timeoutPeriod!r}")
        super().__init__(wrappedFactory)
        self.timeoutPeriod = timeoutPeriod
        self.clock = clock

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap the wrapped factory's protocol with the timeout."""
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped, timeoutPeriod=self.timeoutPeriod)

    def callLater(self, period: float, func: Callable[[], object]) -> Any:
        """Schedule ``func`` in ``period`` seconds (on ``clock``, or the global reactor)."""
        return _callLater(self, period, func)


# -- logging traffic ----------------------------------------------------------------------------


class SpewingProtocol(ProtocolWrapper):
    """Logs every chunk received and sent (at debug level), for debugging."""

    def dataReceived(self, data: bytes) -> None:
        """Log ``data``, then pass it on."""
        _log.debug("Received: {data!r}", data=data)
        self.wrappedProtocol.dataReceived(data)

    def write(self, data: bytes) -> None:
        """Log ``data``, then send it."""
        _log.debug("Sending: {data!r}", data=data)
        self.transport.write(data)


class SpewingFactory(WrappingFactory):
    """Wraps connections in SpewingProtocol: every byte goes to the log."""

    protocol = SpewingProtocol


class TrafficLoggingProtocol(ProtocolWrapper):
    """Writes what happens on its connection to ``logfile``, one line per event.

    The lines: ``*`` (connected), ``C n: data`` (received), ``S n: data`` (sent),
    ``SV n: [data, ...]`` (writeSequence), ``S n: *`` (loseConnection), ``C n: reason``
    (lost), where ``n`` is the connection's number and data is a bytes repr, cut to
    ``lengthLimit`` bytes. Each line is flushed at once, on the reactor's thread: a
    tool for debugging, not for busy servers.
    """

    def __init__(
        self,
        factory: Any,
        wrappedProtocol: Any,
        logfile: IO[str],
        lengthLimit: int | None = None,
        number: int = 0,
    ) -> None:
        super().__init__(factory, wrappedProtocol)
        self.logfile = logfile
        self.lengthLimit = lengthLimit
        self._number = number

    def _log(self, line: str) -> None:
        self.logfile.write(line + "\n")
        self.logfile.flush()

    def _mungeData(self, data: bytes) -> bytes:
        limit = self.lengthLimit
        if limit is not None and len(data) > limit:
            return data[: max(0, limit - 12)] + b"<... elided>"
        return data

    def connectionMade(self) -> None:
        """Log the connection."""
        self._log("*")

    def dataReceived(self, data: bytes) -> None:
        """Log ``data``, then pass it on."""
        self._log(f"C {self._number}: {self._mungeData(data)!r}")
        self.wrappedProtocol.dataReceived(data)

    def connectionLost(self, reason: object = None) -> None:
        """Log the reason, close the log file, then as ProtocolWrapper."""
        self._log(f"C {self._number}: {reason!r}")
        self.logfile.close()
        super().connectionLost(reason)

    def write(self, data: bytes) -> None:
        """Log ``data``, then send it."""
        self._log(f"S {self._number}: {self._mungeData(data)!r}")
        self.transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """Log the chunks, then send them."""
        chunks = list(data)
        self._log(f"SV {self._number}: {[self._mungeData(chunk) for chunk in chunks]!r}")
        self.transport.writeSequence(chunks)

    def loseConnection(self) -> None:
        """Log the close, then close."""
        self._log(f"S {self._number}: *")
        self.transport.loseConnection()


class TrafficLoggingFactory(WrappingFactory):
    """Logs each connection's traffic to its own file, ``logfilePrefix-N`` (N from 1).

    Args:
        wrappedFactory: the factory whose connections are logged.
        logfilePrefix: the start of each file's path.
        lengthLimit: log at most this many bytes of each chunk.
    """

    protocol = TrafficLoggingProtocol
    _counter = 0

    def __init__(
        self, wrappedFactory: Any, logfilePrefix: str, lengthLimit: int | None = None
    ) -> None:
        super().__init__(wrappedFactory)
        self.logfilePrefix = logfilePrefix
        self.lengthLimit = lengthLimit

    def open(self, name: str) -> IO[str]:
        """Open the log file ``name`` for writing (override to log elsewhere)."""
        return open(name, "w", encoding="utf-8")

    def buildProtocol(self, addr: Any) -> Any:
        """Open the next log file and wrap the connection to log into it."""
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        self._counter += 1
        logfile = self.open(f"{self.logfilePrefix}-{self._counter}")
        return self.protocol(self, wrapped, logfile, self.lengthLimit, self._counter)

    def resetCounter(self) -> None:
        """Number the next connection's file 1 again."""
        self._counter = 0
