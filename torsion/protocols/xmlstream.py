"""XML streams (as XMPP uses them): an incremental parser and the protocol around it.

An XML stream is one document that never ends while the connection lasts: a root
start tag (the stream header), then complete top-level children (XMPP's stanzas),
then, eventually, the root's end tag. ``XmlStreamParser`` is the sans-IO part: give
``feed`` bytes cut anywhere and it returns events:

- ``StreamStart(root)``: the root start tag, as an Element with its attributes and
  no children;
- ``ElementReceived(element)``: each complete child of the root, as an Element tree
  (torsion.protocols._xmlelement, domish-like);
- ``StreamEnd()``: the root's end tag;
- ``StreamError(message)``: the stream is broken (not well-formed, not allowed, or
  over a limit); nothing more is parsed after it.

It runs on the standard library's expat, a new parser per stream, with namespaces.
It is safe with untrusted peers: a DOCTYPE (and so any entity declaration: no
"billion laughs", no external entities) is an error, and so is going past
``maxDepth`` levels of nesting, a top-level child larger than ``maxElementSize``
bytes, or more than ``maxPendingBytes`` received bytes that make no event yet (a
never-ending tag or comment). Random bytes only ever give a StreamError.

``XmlStream`` is the Protocol: ``dataReceived`` feeds the parser and calls
``onDocumentStart(root)``, ``onElement(element)``, ``onDocumentEnd()`` and
``onStreamError(message)`` (which by default logs the error and drops the
connection); ``send`` writes an Element or text; ``resetParser`` starts a fresh
stream on the same connection, as XMPP does after STARTTLS or SASL.
Tests: tests/protocols/test_xmlstream.py.
"""

from __future__ import annotations

from typing import Any
from xml.parsers import expat

from torsion.internet import protocol
from torsion.logger import Logger
from torsion.protocols._framing import _checkedBytes
from torsion.protocols._xmlelement import Element, escapeToXml

__all__ = [
    "Element",
    "ElementReceived",
    "StreamEnd",
    "StreamError",
    "StreamStart",
    "XmlStream",
    "XmlStreamParser",
    "escapeToXml",
]

_log = Logger()


class StreamStart:
    """The stream's root start tag arrived: ``root`` holds its name and attributes."""

    __slots__ = ("root",)

    def __init__(self, root: Element) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"StreamStart({self.root.toXml(closeElement=False)!r})"


class ElementReceived:
    """A complete top-level child of the root arrived."""

    __slots__ = ("element",)

    def __init__(self, element: Element) -> None:
        self.element = element

    def __repr__(self) -> str:
        return f"ElementReceived({self.element.toXml()!r})"


class StreamEnd:
    """The root's end tag arrived: the peer ended the stream."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "StreamEnd()"


class StreamError:
    """The stream is broken; ``message`` says how. No more events follow."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"StreamError({self.message!r})"


Event = StreamStart | ElementReceived | StreamEnd | StreamError


# Past this many bytes without an event, chunks without a ">" wait (see feed).
_STASH_FROM = 1024


class _Refused(Exception):
    """Raised inside an expat handler to stop at something not allowed."""


def _qname(expatName: str) -> tuple[str | None, str]:
    uri, space, local = expatName.rpartition(" ")
    return (uri if space else None, local)


class XmlStreamParser:
    """Bytes of an XML stream in, events out (see the module's documentation).

    Args:
        maxDepth: the deepest nesting allowed, the root counting as 1.
        maxElementSize: the most bytes a top-level child may take, tags included.
        maxPendingBytes: the most bytes received that have not yet made any event
            (one tag, one comment, ...).
    """

    def __init__(
        self,
        maxDepth: int = 64,
        maxElementSize: int = 1 << 20,
        maxPendingBytes: int = 1 << 16,
    ) -> None:
        self.maxDepth = maxDepth
        self.maxElementSize = maxElementSize
        self.maxPendingBytes = maxPendingBytes
        self._events: list[Event] = []
        self._stack: list[Element] = []
        self._fed = 0
        self._lastEvent = 0
        self._childStart = -1
        self._done = False
        self._stash: list[bytes] = []
        parser = self._parser = expat.ParserCreate(namespace_separator=" ")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        if hasattr(parser, "SetReparseDeferralEnabled"):
            # Deferral (expat 2.6) would hold back a complete stanza until more bytes
            # come; maxPendingBytes bounds the re-parsing it exists to limit.
            parser.SetReparseDeferralEnabled(False)
        parser.buffer_text = False
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._entity
        parser.ExternalEntityRefHandler = self._externalEntity
        parser.ProcessingInstructionHandler = self._mark
        parser.CommentHandler = self._mark

    @property
    def done(self) -> bool:
        """True once the stream ended or broke: feeding more gives no events."""
        return self._done

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data``; return the events it completes, in order."""
        if type(data) is not bytes:
            data = _checkedBytes(data, "XmlStreamParser.feed")
        if self._done:
            return []
        self._fed += len(data)
        if self._fed - self._lastEvent > _STASH_FROM and b">" not in data:
            # A long token (tag, comment) is still open, and this cannot end it: expat
            # would parse it all again for nothing, so keep the bytes until a ">" comes
            # (expat before 2.6 has no reparse deferral; this is the cheap version).
            self._stash.append(data)
            try:
                self._checkSizes(self._fed)
            except _Refused as e:
                self._fail(str(e))
            events, self._events = self._events, []
            return events
        if self._stash:
            self._stash.append(data)
            data = b"".join(self._stash)
            self._stash = []
        try:
            self._parser.Parse(data, False)
            self._checkSizes(self._fed)
        except expat.ExpatError as e:
            self._fail(
                f"the stream is not well-formed XML: {expat.ErrorString(e.code)} "
                f"(line {e.lineno}, column {e.offset})"
            )
        except _Refused as e:
            self._fail(str(e))
        events, self._events = self._events, []
        return events

    def _fail(self, message: str) -> None:
        ended = self._done
        self._done = True
        self._stack = []
        if not ended:
            # (Bytes after the root's end tag are no error: the stream is over.)
            self._events.append(StreamError(message))
        # Handlers off: expat must not call back into a parser that has finished.
        self._parser = None  # type: ignore[assignment]

    def _checkSizes(self, position: int) -> None:
        if self._childStart >= 0 and position - self._childStart > self.maxElementSize:
            raise _Refused(
                f"an element of the stream is larger than {self.maxElementSize} bytes, the "
                f"limit (maxElementSize)"
            )
        if position - self._lastEvent > self.maxPendingBytes:
            raise _Refused(
                f"more than {self.maxPendingBytes} bytes arrived without completing any tag "
                f"or text, the limit (maxPendingBytes)"
            )

    def _at(self) -> int:
        index = self._parser.CurrentByteIndex
        self._checkSizes(index)
        self._lastEvent = index
        return index

    # -- expat's handlers -----------------------------------------------------------

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        index = self._at()
        stack = self._stack
        if len(stack) >= self.maxDepth:
            raise _Refused(f"the stream nests elements deeper than {self.maxDepth}, the limit")
        parent = stack[-1] if stack else None
        uri, local = _qname(name)
        element = Element((uri, local), uri)
        for key, value in attributes.items():
            attributeUri, attributeName = _qname(key)
            element.attributes[
                (attributeUri, attributeName) if attributeUri is not None else attributeName
            ] = value
        if parent is None:
            self._events.append(StreamStart(element))
        else:
            if len(stack) == 1:
                self._childStart = index
            else:
                parent.addChild(element)
        stack.append(element)

    def _end(self, name: str) -> None:
        self._at()
        element = self._stack.pop()
        depth = len(self._stack)
        if depth == 1:
            self._childStart = -1
            element.parent = None
            self._events.append(ElementReceived(element))
        elif depth == 0:
            self._done = True
            self._events.append(StreamEnd())

    def _text(self, data: str) -> None:
        index = self._at()
        self._lastEvent = index + len(data)
        if len(self._stack) > 1:
            self._stack[-1].addContent(data)

    def _mark(self, *ignored: Any) -> None:
        self._at()

    def _doctype(self, *ignored: Any) -> None:
        raise _Refused("the stream has a DOCTYPE, which XML streams do not allow")

    def _entity(self, *ignored: Any) -> None:
        raise _Refused("the stream declares an entity, which XML streams do not allow")

    def _externalEntity(self, *ignored: Any) -> int:
        raise _Refused("the stream refers to an external entity, which is not allowed")


class XmlStream(protocol.Protocol):
    """A Protocol speaking an XML stream: override the ``on...`` methods.

    The parser's limits are the class attributes ``maxDepth``, ``maxElementSize``
    and ``maxPendingBytes``.
    """

    maxDepth = 64
    maxElementSize = 1 << 20
    maxPendingBytes = 1 << 16
    _parser: XmlStreamParser | None = None

    def connectionMade(self) -> None:
        """Start the first stream."""
        self.resetParser()

    def resetParser(self) -> None:
        """Forget the stream so far; what arrives next starts a new one (with a header)."""
        self._parser = XmlStreamParser(self.maxDepth, self.maxElementSize, self.maxPendingBytes)

    def dataReceived(self, data: bytes) -> None:
        """Parse ``data`` and dispatch the events it completes."""
        parser = self._parser
        if parser is None:
            parser = self._parser = XmlStreamParser(
                self.maxDepth, self.maxElementSize, self.maxPendingBytes
            )
        for event in parser.feed(data):
            if self._parser is not parser:
                return  # A handler reset the stream: what followed belongs to no stream.
            if isinstance(event, ElementReceived):
                self.onElement(event.element)
            elif isinstance(event, StreamStart):
                self.onDocumentStart(event.root)
            elif isinstance(event, StreamEnd):
                self.onDocumentEnd()
            else:
                self.onStreamError(event.message)

    def onDocumentStart(self, rootElement: Element) -> None:
        """The peer's stream header arrived."""

    def onElement(self, element: Element) -> None:
        """A complete top-level element arrived."""

    def onDocumentEnd(self) -> None:
        """The peer ended its stream: by default, close the connection."""
        self.transport.loseConnection()

    def onStreamError(self, message: str) -> None:
        """The peer's stream broke: by default, log why and drop the connection."""
        _log.warn(
            "{protocol}: dropping the connection from {peer}: {message}",
            protocol=type(self).__name__,
            peer=self.transport.getPeer(),
            message=message,
        )
        self.transport.loseConnection()

    def send(self, obj: Element | str | bytes) -> None:
        """Send an Element (as XML) or text (as it is, UTF-8 encoded)."""
        if isinstance(obj, Element):
            obj = obj.toXml()
        if isinstance(obj, str):
            obj = obj.encode("utf-8")
        self.transport.write(obj)
