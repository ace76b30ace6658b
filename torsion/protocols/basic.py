"""Basic framing for stream protocols: lines, netstrings, length-prefixed strings.

TCP delivers a byte stream cut at arbitrary places; most protocols want messages.
These receivers turn the stream back into messages and call one method per message:

- ``LineReceiver``: ``lineReceived`` once per line; it can switch to raw mode in the
  middle of a packet (``setRawMode``/``setLineMode``) for protocols that mix lines
  and bodies, and it holds lines back while paused as a producer.
- ``LineOnlyReceiver``: the fast path when a protocol is made of lines only.
- ``NetstringReceiver``: ``stringReceived`` per netstring (``5:hello,``).
- ``Int32StringReceiver``, ``Int16StringReceiver``, ``Int8StringReceiver``:
  ``stringReceived`` per string preceded by its big-endian length.
- ``StatefulStringProtocol``: routes each string to ``proto_<state>``.
- ``FileSender``: streams a file to a transport as fast as it drains.

The parsing itself is done by the sans-IO cores of ``torsion.protocols._framing``
(``LineSplitter``, ``NetstringParser``, ``IntNParser``, re-exported here), so it is
tested without sockets. Every receiver stops delivering as soon as its connection is
closing (a handler called ``transport.loseConnection``).

Limits: a line longer than ``MAX_LENGTH`` bytes (not counting the delimiter) is never
delivered; ``lineLengthExceeded`` is called instead, and by default drops the
connection. The bound guaranteed: in line mode, between two calls of
``dataReceived``, at most ``MAX_LENGTH + len(delimiter) - 1`` bytes of an incomplete
line are kept (fewer could reject a legal line whose delimiter is cut in two). The
exceptions are data that arrives while a receiver is paused, which waits whole until
it resumes (a transport stops reading when paused, so that is at most what was
already on its way), and raw mode, where the protocol consumes what arrives. With the
default ``lineLengthExceeded``, which lines are delivered, and whether it is called,
do not depend on how the bytes were cut into chunks. Strings are bounded by their
``MAX_LENGTH`` (99999 bytes by default) plus their framing.

Differences from Twisted, on purpose: Twisted's LineOnlyReceiver rejects a line of
exactly ``MAX_LENGTH`` bytes when its delimiter arrives cut in two, and this one does
not; a value returned by ``lineReceived`` does not close the connection (call
``transport.loseConnection()``); a string announced longer than an IntN receiver's
``MAX_LENGTH`` is skipped if ``lengthLimitExceeded`` keeps the connection, instead of
being reported again and again; NetstringReceiver pauses like the others; FileSender
fails its Deferred (rather than raising into the transport) if reading the file
fails; and sending text instead of bytes says to encode it.

Tests: tests/protocols/test_basic.py, test_basic_properties.py (hypothesis:
segmentation independence) and test_basic_strings.py.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, BinaryIO

from zope.interface import implementer

from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionLost
from torsion.internet.interfaces import IPullProducer, IPushProducer
from torsion.internet.protocol import Protocol
from torsion.logger import Logger
from torsion.protocols._framing import (
    IntNParser,
    LengthLimitExceeded,
    LineSplitter,
    LineTooLong,
    NetstringParseError,
    NetstringParser,
    _checkedBytes,
)
from torsion.python.failure import Failure

__all__ = [
    "FileSender",
    "IncompleteNetstring",
    "Int8StringReceiver",
    "Int16StringReceiver",
    "Int32StringReceiver",
    "IntNParser",
    "IntNStringReceiver",
    "LengthLimitExceeded",
    "LineOnlyReceiver",
    "LineReceiver",
    "LineSplitter",
    "LineTooLong",
    "NetstringParseError",
    "NetstringParser",
    "NetstringReceiver",
    "StatefulStringProtocol",
    "StringTooLongError",
]

_log = Logger()


class IncompleteNetstring(Exception):
    """Not enough bytes for a whole netstring yet.

    Kept for code that imports it from Twisted's module; the parsers here report an
    incomplete netstring by returning None, never by raising this.
    """


class StringTooLongError(AssertionError):
    """A string is too long for the length prefix it would be sent with."""


# -- what the receivers share -----------------------------------------------------------


def _sendable(data: object, what: str) -> bytes:
    """Return ``data`` as bytes for sending; a str gets a hint to encode it."""
    return data if type(data) is bytes else _checkedBytes(data, what)


class _Receiver(Protocol):
    """The base of every receiver here: it notices that its connection is closing."""

    def _closing(self) -> bool:
        transport = self.transport
        return transport is not None and bool(transport.disconnecting)


@implementer(IPushProducer)
class _PausableReceiver(_Receiver):
    """A receiver that holds back what it delivers while paused as a producer.

    Register the protocol (not its transport) as a consumer's producer: pausing it
    both stops the transport reading and stops delivering what is already buffered,
    and resuming delivers that first.
    """

    paused = False

    def pauseProducing(self) -> None:
        """Stop delivering, and stop the transport reading, until resumed."""
        self.paused = True
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """Deliver what was held back while paused, and let the transport read again."""
        self.paused = False
        self.transport.resumeProducing()
        self.dataReceived(b"")

    def stopProducing(self) -> None:
        """Stop delivering for good and stop the transport."""
        self.paused = True
        self.transport.stopProducing()


# -- line protocols ----------------------------------------------------------------------


class _LineProtocol(_Receiver):
    """What both line receivers share: the delimiter, the limit, and sending lines."""

    # What ends a line, on the way in and on the way out.
    delimiter = b"\r\n"
    # The longest line accepted, in bytes, not counting the delimiter.
    MAX_LENGTH = 16384
    _lineSplitter: LineSplitter | None = None

    def lineReceived(self, line: bytes) -> None:
        """Handle one line (without its delimiter); subclasses must override this."""
        raise NotImplementedError(
            f"{type(self).__name__} must define lineReceived(line) to handle the lines it receives"
        )

    def sendLine(self, line: bytes) -> None:
        """Write ``line`` followed by the delimiter.

        Raises:
            TypeError: ``line`` is not bytes (encode text first).
        """
        self.transport.write(_sendable(line, "sendLine") + self.delimiter)

    def lineLengthExceeded(self, line: bytes) -> None:
        """A line longer than MAX_LENGTH arrived: by default, drop the connection.

        ``line`` is what was buffered from the start of the overlong line on: at least
        part of that line, maybe followed by more. The buffer has been emptied; if an
        override keeps the connection open, parsing starts afresh with the next bytes
        received, which are likely the middle of the overlong line.
        """
        self.transport.loseConnection()


class LineReceiver(_PausableReceiver, _LineProtocol):
    """A protocol that receives lines, and can switch to raw bytes and back.

    Override ``lineReceived``; for protocols that switch to raw data (a body after
    headers), also ``rawDataReceived``. Calling ``setRawMode`` inside ``lineReceived``
    hands whatever follows that line, in the same packet or later, to
    ``rawDataReceived``; calling ``setLineMode(extra)`` goes back to lines, parsing
    ``extra`` (what the raw handler read past its end) first.

    Delivery stops as soon as the connection is closing (a handler called
    ``transport.loseConnection``) and while the protocol is paused as a producer
    (``pauseProducing``); ``resumeProducing`` delivers what was held back.
    """

    line_mode = True
    _busyReceiving = False

    def dataReceived(self, data: bytes) -> None:
        """Split ``data`` into lines (or raw data) and deliver them in order.

        A call made while a handler is running (a handler feeding data back in, or
        ``setLineMode(extra)``) only buffers; the running call delivers it.
        """
        splitter = self._lineSplitter
        if splitter is None:
            # Made on first use: subclasses often define __init__ without calling ours.
            splitter = self._lineSplitter = LineSplitter()
        splitter.feed(data)
        if self._busyReceiving:
            return
        self._busyReceiving = True
        transport = self.transport
        try:
            while not self.paused and not (transport is not None and transport.disconnecting):
                if self.line_mode:
                    try:
                        line = splitter.nextLine(self.delimiter, self.MAX_LENGTH)
                    except LineTooLong as e:
                        self.lineLengthExceeded(e.data)
                        continue
                    if line is None:
                        break
                    self.lineReceived(line)
                else:
                    rest = splitter.takeAll()
                    if not rest:
                        break
                    self.rawDataReceived(rest)
        finally:
            self._busyReceiving = False

    def rawDataReceived(self, data: bytes) -> None:
        """Handle bytes received in raw mode; subclasses that use raw mode override it."""
        raise NotImplementedError(
            f"{type(self).__name__} called setRawMode() but does not define "
            f"rawDataReceived(data) to handle the raw bytes"
        )

    def setRawMode(self) -> None:
        """Deliver what follows to ``rawDataReceived`` instead of splitting it into lines."""
        self.line_mode = False

    def setLineMode(self, extra: bytes = b"") -> None:
        """Go back to delivering lines, starting with those in ``extra``.

        ``extra`` is for the bytes a raw handler received past the end of its raw
        part; they are parsed before anything received later.
        """
        self.line_mode = True
        if extra:
            self.dataReceived(extra)

    def clearLineBuffer(self) -> bytes:
        """Forget the bytes received but not delivered yet, and return them."""
        splitter = self._lineSplitter
        return b"" if splitter is None else splitter.takeAll()


class LineOnlyReceiver(_LineProtocol):
    """A protocol made only of lines: no raw mode and no pausing, so it is faster.

    Each chunk is split in one call and the lines delivered in order; delivery stops
    once the connection is closing. Override ``lineReceived``.
    """

    def dataReceived(self, data: bytes) -> None:
        """Split ``data`` into lines and deliver them in order."""
        splitter = self._lineSplitter
        if splitter is None:
            splitter = self._lineSplitter = LineSplitter()
        lines, overlong = splitter.splitAll(data, self.delimiter, self.MAX_LENGTH)
        lineReceived = self.lineReceived
        transport = self.transport
        if transport is None:
            for line in lines:
                lineReceived(line)
        else:
            for line in lines:
                if transport.disconnecting:
                    return
                lineReceived(line)
        if overlong is not None and not self._closing():
            self.lineLengthExceeded(overlong)


# -- string protocols --------------------------------------------------------------------


class _StringReceiver(_PausableReceiver):
    """What the netstring and length-prefix receivers share: the delivery loop."""

    # The longest string accepted, in bytes.
    MAX_LENGTH = 99999
    # Set once the peer sent something that cannot be framed; nothing more is read.
    brokenPeer = 0
    _busyReceiving = False
    _stringParser: Any = None
    _held: tuple[list[bytes], Exception | None] | None = None

    def stringReceived(self, string: bytes) -> None:
        """Handle one complete string; subclasses must override this."""
        raise NotImplementedError(
            f"{type(self).__name__} must define stringReceived(string) to handle the "
            f"strings it receives"
        )

    def _newParser(self) -> Any:
        raise NotImplementedError

    def _parseFailed(self, reason: Exception) -> None:
        raise NotImplementedError

    def dataReceived(self, data: bytes) -> None:
        """Parse ``data`` and deliver each complete string, in order.

        The strings of a chunk are parsed in one pass, then delivered one by one;
        those not delivered because a handler paused the protocol or closed the
        connection wait in ``_held`` (with the error that followed them, if any).
        """
        if self.brokenPeer:
            return
        parser = self._stringParser
        if parser is None:
            parser = self._stringParser = self._newParser()
        parser.feed(data)
        if self._busyReceiving:
            return
        self._busyReceiving = True
        transport = self.transport
        if transport is None:
            transport = _NOT_CLOSING
        stringReceived = self.stringReceived
        try:
            while True:
                held = self._held
                if held is not None:
                    strings, error = held
                    self._held = None
                elif self.paused or self.brokenPeer or transport.disconnecting:
                    break
                else:
                    strings, error = parser.nextStrings(self.MAX_LENGTH)
                index = 0
                for string in strings:
                    if self.paused or transport.disconnecting:
                        break
                    stringReceived(string)
                    index += 1
                if index < len(strings):
                    self._held = (strings[index:], error)
                    break
                if error is not None:
                    self._parseFailed(error)
                elif not strings:
                    break
        finally:
            self._busyReceiving = False


class _NotClosing:
    """Stands for the transport of a receiver that has none (a sans-IO test)."""

    disconnecting = False


_NOT_CLOSING = _NotClosing()


class NetstringReceiver(_StringReceiver):
    """A protocol of netstrings (``5:hello,``): override ``stringReceived``.

    A malformed or too long netstring sets ``brokenPeer``, logs a warning that names
    the peer and what was wrong, and drops the connection: after that the stream
    cannot be put back in step.
    """

    def _newParser(self) -> NetstringParser:
        return NetstringParser()

    def _parseFailed(self, reason: Exception) -> None:
        self.brokenPeer = 1
        transport = self.transport
        peer = transport.getPeer() if transport is not None else None
        _log.warn(
            "{protocol} dropped the connection from {peer}: {reason}",
            protocol=type(self).__name__,
            peer=peer,
            reason=str(reason),
        )
        transport.loseConnection()

    def sendString(self, string: bytes) -> None:
        """Send ``string`` as a netstring.

        Raises:
            TypeError: ``string`` is not bytes (encode text first).
        """
        string = _sendable(string, "sendString")
        self.transport.write(b"%d:%b," % (len(string), string))


class IntNStringReceiver(_StringReceiver):
    """A protocol of strings each preceded by its length as an N-byte big-endian number.

    Use Int32StringReceiver, Int16StringReceiver or Int8StringReceiver (or set
    ``structFormat`` and ``prefixLength``), and override ``stringReceived``.
    """

    structFormat = ""
    prefixLength = 0

    def _newParser(self) -> IntNParser:
        if not self.prefixLength:
            raise TypeError(
                f"{type(self).__name__} has no length prefix; derive from "
                f"Int32StringReceiver (or Int16/Int8), or set structFormat and prefixLength"
            )
        return IntNParser(self.structFormat)

    def _parseFailed(self, reason: Exception) -> None:
        assert isinstance(reason, LengthLimitExceeded)
        self.lengthLimitExceeded(reason.length)

    def lengthLimitExceeded(self, length: int) -> None:
        """The peer announced a string longer than MAX_LENGTH: by default, drop the
        connection. If an override keeps it open, that string's bytes are skipped
        (never buffered) and the next string is read after them."""
        self.transport.loseConnection()

    def sendString(self, string: bytes) -> None:
        """Send ``string`` after its length prefix.

        Raises:
            StringTooLongError: the length does not fit in the prefix.
            TypeError: ``string`` is not bytes (encode text first).
        """
        string = _sendable(string, "sendString")
        if len(string) >= 1 << (8 * self.prefixLength):
            raise StringTooLongError(
                f"a string of {len(string)} bytes does not fit a {self.prefixLength}-byte "
                f"length prefix; split it, or use a receiver with a longer prefix"
            )
        self.transport.write(struct.pack(self.structFormat, len(string)) + string)


class Int32StringReceiver(IntNStringReceiver):
    """Strings preceded by a 4-byte big-endian length."""

    structFormat = "!I"
    prefixLength = 4


class Int16StringReceiver(IntNStringReceiver):
    """Strings preceded by a 2-byte big-endian length."""

    structFormat = "!H"
    prefixLength = 2


class Int8StringReceiver(IntNStringReceiver):
    """Strings preceded by a 1-byte length."""

    structFormat = "!B"
    prefixLength = 1


class StatefulStringProtocol:
    """A mixin for string receivers whose handling depends on a state.

    Each string goes to the method ``proto_<state>`` (``proto_init`` first), which
    returns the next state; the state "done" closes the connection. Put it before the
    receiver: ``class Chat(StatefulStringProtocol, NetstringReceiver)``.
    """

    state = "init"
    transport: Any = None

    def stringReceived(self, string: bytes) -> None:
        """Hand ``string`` to the handler of the current state."""
        handler = getattr(self, "proto_" + self.state, None)
        if handler is None:
            _log.error(
                "{cls} has no method proto_{state} for its state {state!r}; string dropped",
                cls=type(self).__name__,
                state=self.state,
            )
            return
        self.state = handler(string)
        if self.state == "done":
            self.transport.loseConnection()


# -- sending a file ----------------------------------------------------------------------


@implementer(IPullProducer)
class FileSender:
    """Send a file to a consumer (a transport) as fast as it takes it, a chunk at a time.

    ``beginFileTransfer`` returns a Deferred that fires with the last byte sent once
    the whole file is written, or fails if reading fails or the consumer stops first.
    """

    CHUNK_SIZE = 2**14
    lastSent = b""
    deferred: Deferred[bytes] | None = None
    file: BinaryIO | None = None
    consumer: Any = None
    transform: Callable[[bytes], bytes] | None = None

    def beginFileTransfer(
        self,
        file: BinaryIO,
        consumer: Any,
        transform: Callable[[bytes], bytes] | None = None,
    ) -> Deferred[bytes]:
        """Start sending ``file`` (opened in binary mode) to ``consumer``.

        Args:
            transform: applied to each chunk before it is written, if given.
        """
        self.file = file
        self.consumer = consumer
        self.transform = transform
        deferred: Deferred[bytes] = Deferred()
        self.deferred = deferred
        consumer.registerProducer(self, False)
        return deferred

    def resumeProducing(self) -> None:
        """Write the next chunk; at the end of the file, unregister and fire."""
        try:
            chunk = self.file.read(self.CHUNK_SIZE) if self.file is not None else b""
            if chunk and self.transform is not None:
                chunk = self.transform(chunk)
        except Exception:
            self._finish(Failure())
            return
        if not chunk:
            self._finish(self.lastSent)
            return
        self.consumer.write(chunk)
        self.lastSent = chunk[-1:]

    def pauseProducing(self) -> None:
        """Nothing to do: a pull producer only writes when asked."""

    def stopProducing(self) -> None:
        """The consumer is going away: fail the Deferred."""
        self.file = None
        deferred, self.deferred = self.deferred, None
        if deferred is not None:
            deferred.errback(
                ConnectionLost("the consumer stopped the transfer before the file was sent")
            )

    def _finish(self, result: bytes | Failure) -> None:
        self.file = None
        self.consumer.unregisterProducer()
        deferred, self.deferred = self.deferred, None
        if deferred is not None:
            if isinstance(result, Failure):
                deferred.errback(result)
            else:
                deferred.callback(result)
