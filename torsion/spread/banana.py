"""Banana: the byte encoding of s-expressions under Perspective Broker, and its protocol.

Banana sends lists of ints (any size), floats, byte strings and lists, and nothing
else (PB's jelly turns richer values into such lists first). It speaks the bytes of
Twisted's ``twisted.spread.banana``, so a torsion peer and a Twisted one understand
each other. The encoding itself, and its limits, are in the sans-IO
torsion.spread._bananacodec (``BananaEncoder``, ``BananaDecoder``, re-exported here).

``Banana`` is the protocol: the server offers its dialects (``knownDialects``, by
default ``[b"pb", b"none"]``) as its first expression, the client answers with the
first of those it knows, and from then on both sides exchange expressions:
``sendEncoded(obj)`` out, ``expressionReceived(obj)`` in, ``connectionReady()`` once
the dialect is agreed. In the ``pb`` dialect the common words of PB travel as small
numbers (``outgoingVocabulary``/``incomingVocabulary``).

Bytes that are not Banana, a broken limit, a failed handshake, or an exception raised
by ``expressionReceived`` never reach the reactor: the reason is logged with the peer's
address, the connection is dropped, and nothing more is read from it.

Differences from Twisted, on purpose: an unknown type byte raises BananaError (not
NotImplementedError) and, like every other bad input, drops only that connection
instead of propagating; nesting depth and the size of one expression are bounded
(``depthLimit``, ``expressionLimit``); expressions that arrive after the connection
began closing are not delivered; ``decode`` insists on exactly one whole expression.

Tests: tests/spread/test_banana.py, test_banana_fuzz.py, test_banana_twisted.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torsion.internet.protocol import Protocol, connectionDone
from torsion.logger import Logger, LogLevel
from torsion.python.failure import Failure
from torsion.spread._bananacodec import (
    DEPTH_LIMIT,
    EXPRESSION_LIMIT,
    FLOAT,
    INT,
    LIST,
    LONGINT,
    LONGNEG,
    NEG,
    PREFIX_LIMIT,
    SIZE_LIMIT,
    STRING,
    VOCAB,
    BananaDecoder,
    BananaEncoder,
    BananaError,
    b1282int,
    int2b128,
)

__all__ = [
    "DEPTH_LIMIT",
    "EXPRESSION_LIMIT",
    "FLOAT",
    "INT",
    "LIST",
    "LONGINT",
    "LONGNEG",
    "NEG",
    "PREFIX_LIMIT",
    "SIZE_LIMIT",
    "STRING",
    "VOCAB",
    "Banana",
    "BananaDecoder",
    "BananaEncoder",
    "BananaError",
    "b1282int",
    "decode",
    "encode",
    "int2b128",
    "setPrefixLimit",
]

_log = Logger()

# The prefix limit given to new Banana protocols and used by decode().
_prefixLimit = PREFIX_LIMIT


def _checkedPrefixLimit(limit: int) -> int:
    if type(limit) is not int or limit < 1:
        raise ValueError(f"a Banana prefix limit is a number of bytes >= 1, not {limit!r}")
    return limit


def setPrefixLimit(limit: int) -> None:
    """Set the prefix limit (bytes of number before a type byte) of new protocols.

    It applies to Banana protocols made after the call and to ``decode``; a limit of
    N bytes admits integers below 2**(7*N). The default is 64.
    """
    global _prefixLimit
    _prefixLimit = _checkedPrefixLimit(limit)


_plainEncoder = BananaEncoder()


def encode(lst: object) -> bytes:
    """Return the Banana bytes of one expression (no vocabulary: the none dialect).

    Raises:
        BananaError: ``lst`` holds something Banana cannot send, or breaks a limit.
    """
    return _plainEncoder.encode(lst)


def decode(st: bytes) -> Any:
    """Return the one expression whose Banana bytes (no vocabulary) are ``st``.

    Raises:
        BananaError: ``st`` is not exactly one whole expression, or breaks a limit.
    """
    decoder = BananaDecoder(prefixLimit=_prefixLimit)
    found = decoder.feed(st, 1)
    if not found:
        raise BananaError(f"{len(st)} bytes are not a whole Banana expression")
    if decoder.buffered:
        raise BananaError(
            f"{decoder.buffered} bytes follow the first Banana expression; decode one at a "
            f"time with a BananaDecoder"
        )
    return found[0]


class Banana(Protocol):
    """The Banana protocol: negotiates a dialect, then sends and receives expressions.

    Override ``expressionReceived`` to handle what arrives and ``connectionReady`` to
    start talking once the dialect is agreed; send with ``sendEncoded``. ``isClient``
    says which side this is (the server offers dialects, the client picks). The limits
    (``sizeLimit``, ``prefixLimit``, ``depthLimit``, ``expressionLimit``) may be set on
    the class or the instance before the connection is made.
    """

    knownDialects: list[bytes] = [b"pb", b"none"]
    isClient = 1
    currentDialect: bytes | None = None
    prefixLimit = PREFIX_LIMIT
    sizeLimit = SIZE_LIMIT
    depthLimit = DEPTH_LIMIT
    expressionLimit = EXPRESSION_LIMIT

    # The pb dialect's words and their numbers, as Twisted numbers them.
    outgoingVocabulary: dict[bytes, int] = {
        word: number
        for number, word in enumerate(
            [
                b"None",
                b"class",
                b"dereference",
                b"reference",
                b"dictionary",
                b"function",
                b"instance",
                b"list",
                b"module",
                b"persistent",
                b"tuple",
                b"unpersistable",
                b"copy",
                b"cache",
                b"cached",
                b"remote",
                b"local",
                b"lcache",
                b"version",
                b"login",
                b"password",
                b"challenge",
                b"logged_in",
                b"not_logged_in",
                b"cachemessage",
                b"message",
                b"answer",
                b"error",
                b"decref",
                b"decache",
                b"uncache",
            ],
            start=1,
        )
    }
    incomingVocabulary: dict[int, bytes] = {
        number: word for word, number in outgoingVocabulary.items()
    }

    # Made by connectionMade, so that a subclass that forgets to call __init__ works.
    _decoder: BananaDecoder | None = None
    _encode: Callable[[object], bytes]
    _dropped = False
    # The expressions being delivered, while they are.
    _queue: list[Any] | None = None

    def __init__(self, isClient: int = 1) -> None:
        self.isClient = isClient
        self.prefixLimit = _prefixLimit
        self.currentDialect = None
        self._encode = _plainEncoder.encode

    def setPrefixLimit(self, limit: int) -> None:
        """Set this connection's limit of bytes of number before a type byte."""
        self.prefixLimit = _checkedPrefixLimit(limit)
        if self._decoder is not None:
            self._decoder.prefixLimit = limit
        self._encode = self._newEncoder(self.currentDialect == b"pb")

    def _newEncoder(self, withVocabulary: bool) -> Callable[[object], bytes]:
        vocabulary = self.outgoingVocabulary if withVocabulary else None
        if (
            vocabulary is None
            and self.sizeLimit == SIZE_LIMIT
            and self.prefixLimit == PREFIX_LIMIT
            and self.depthLimit == DEPTH_LIMIT
        ):
            return _plainEncoder.encode
        return BananaEncoder(
            vocabulary,
            sizeLimit=self.sizeLimit,
            prefixLimit=self.prefixLimit,
            depthLimit=self.depthLimit,
        ).encode

    def connectionMade(self) -> None:
        """Set up the decoder with this connection's limits; a server offers its dialects.

        A subclass that overrides this must call it.
        """
        self._dropped = False
        self.currentDialect = None
        self._decoder = BananaDecoder(
            sizeLimit=self.sizeLimit,
            prefixLimit=self.prefixLimit,
            depthLimit=self.depthLimit,
            expressionLimit=self.expressionLimit,
        )
        self._encode = self._newEncoder(False)
        if not self.isClient:
            self.sendEncoded(self.knownDialects)

    def connectionReady(self) -> None:
        """The dialect is agreed: override to start the conversation."""

    def connectionLost(self, reason: object = connectionDone) -> None:
        """Forget any partial expression: nothing more will complete it."""
        self._decoder = None
        super().connectionLost(reason)

    def expressionReceived(self, lst: Any) -> None:
        """One whole expression arrived; override to handle it.

        An exception raised here is logged and drops the connection (the stream is
        never delivered to a handler that failed half-way through a message).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define expressionReceived(lst) to handle what it receives"
        )

    def sendEncoded(self, obj: object) -> None:
        """Encode ``obj`` in this connection's dialect and write it to the transport.

        Raises:
            BananaError: ``obj`` holds something Banana cannot send, or breaks a limit
                (nothing is written then).
        """
        self.transport.write(self._encode(obj))

    def _selectDialect(self, dialect: bytes) -> None:
        self.currentDialect = dialect
        pb = dialect == b"pb"
        assert self._decoder is not None
        self._decoder.vocabulary = self.incomingVocabulary if pb else None
        self._encode = self._newEncoder(pb)
        self.connectionReady()

    def _handshake(self, offer: Any) -> str | None:
        """Handle the first expression; return why the handshake failed, or None."""
        if self.isClient:
            if type(offer) is not list:
                return f"the server sent {offer!r:.60} instead of a list of dialects"
            for dialect in offer:
                if type(dialect) is bytes and dialect in self.knownDialects:
                    self.sendEncoded(dialect)
                    self._selectDialect(dialect)
                    return None
            return (
                f"the server offers the dialects {offer!r:.200}, none of which this "
                f"client knows ({self.knownDialects!r})"
            )
        if type(offer) is bytes and offer in self.knownDialects:
            self._selectDialect(offer)
            return None
        return (
            f"the client chose the dialect {offer!r:.60}, which this server does not "
            f"offer ({self.knownDialects!r})"
        )

    def dataReceived(self, data: bytes) -> None:
        """Decode ``data`` and hand each whole expression to ``expressionReceived``."""
        decoder = self._decoder
        if self._dropped or decoder is None:
            return
        transport = self.transport
        try:
            while self.currentDialect is None:
                found = decoder.feed(data, 1)
                if not found:
                    return
                data = b""
                try:
                    failed = self._handshake(found[0])
                except Exception:
                    self._fail("could not complete the Banana handshake")
                    return
                if failed is not None:
                    self._drop(failed)
                    return
                if self._dropped or transport.disconnecting:
                    return
            expressions = decoder.feed(data)
        except BananaError as e:
            # Deliver what came before the bad bytes, unless that would overtake
            # expressions still waiting in a delivery loop further up.
            ready = self.currentDialect is not None and self._queue is None
            if not ready or self._deliver(e.expressions):
                self._drop(str(e))
            return
        if self._queue is not None:
            # Called by a handler through a transport that delivers synchronously: the
            # loop already running hands these on after the ones it holds, in order.
            self._queue.extend(expressions)
            return
        self._deliver(expressions)

    def _deliver(self, expressions: list[Any]) -> bool:
        """Hand ``expressions`` on; return False if the connection closed meanwhile."""
        transport = self.transport
        expressionReceived = self.expressionReceived
        self._queue = expressions
        try:
            # The list may grow while this runs (see dataReceived); its iterator
            # goes on to the new items.
            for expression in expressions:
                if transport.disconnecting:
                    return False
                try:
                    expressionReceived(expression)
                except Exception:
                    self._fail("failed handling an expression")
                    return False
            return True
        finally:
            self._queue = None

    def _peer(self) -> object:
        transport = self.transport
        try:
            return transport.getPeer()
        except Exception:
            return "an unknown peer"

    def _drop(self, reason: str) -> None:
        self._dropped = True
        _log.warn(
            "{protocol} dropped the connection from {peer}: {reason}",
            protocol=self.logPrefix(),
            peer=self._peer(),
            reason=reason,
        )
        self.transport.loseConnection()

    def _fail(self, what: str) -> None:
        self._dropped = True
        failure = Failure()
        _log.failure(
            "{protocol} {what} from {peer}; dropping the connection",
            failure,
            level=LogLevel.error,
            protocol=self.logPrefix(),
            what=what,
            peer=self._peer(),
        )
        # Its frames would keep this protocol alive in the log's history.
        failure.cleanFailure()
        self.transport.loseConnection()
