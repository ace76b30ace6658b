"""XMPP streams: headers, features, authenticators, initializers and IQ requests.

An XMPP connection is a pair of XML streams (RFC 6120). ``XmlStream`` is
torsion.words.xish's dispatching stream with XMPP's parts: the stream header
(``sendHeader``; the peer's is read into ``sid``, ``version``, ``thisEntity``,
``otherEntity``), stream errors both ways (``sendStreamError``; a received one is
dispatched as a Failure of error.StreamError on ``STREAM_ERROR_EVENT`` and ends the
connection), and the tracking of IQ requests: ``IQ(xs, "get").send()`` returns a
Deferred that fires with the ``result`` stanza, or fails with error.StanzaError for
an ``error`` one, with ``TimeoutError`` after ``iq.timeout`` (or the stream's
``iqDefaultTimeout``) seconds, or with the reason if the connection is lost. Only
an answer from the entity the request went to counts (RFC 6120 section 10.1), so a
third party cannot answer for it. An IQ get or set that no observer handles is
answered with ``service-unavailable``, as the RFC requires.

The authenticator drives a stream. ``ConnectAuthenticator`` (the initiating side)
sends the header, collects ``<stream:features>`` into ``xs.features`` and runs
``xs.initializers`` in order, each ``initialize()`` returning nothing or a
Deferred; an initializer that restarts the stream (STARTTLS, SASL) fires with
``Reset`` and the rest run on the new stream's features. When all are done the stream
dispatches ``STREAM_AUTHD_EVENT``; if one fails it dispatches ``INIT_FAILED_EVENT``
with the Failure and closes the stream (Twisted leaves it open; a stream that
failed to log in is of no use). ``TLSInitiatingInitializer`` is STARTTLS: required
by default, and verifying the server's certificate for its domain by default.
``ListenAuthenticator`` is the receiving side's base.
Tests: tests/words/test_jabberxmlstream.py and tests/words/test_xmppserver.py.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.internet import defer, protocol
from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionLost
from torsion.internet.error import TimeoutError as _TimeoutError
from torsion.logger import Logger
from torsion.protocols._xmlelement import Element, escapeToXml
from torsion.python.failure import Failure
from torsion.words.protocols.jabber import error, jid
from torsion.words.protocols.jabber._handlers import (
    StreamManager,
    XMPPHandler,
    XMPPHandlerCollection,
)
from torsion.words.protocols.jabber.ijabber import IIQResponseTracker
from torsion.words.xish import xmlstream as xish
from torsion.words.xish.xmlstream import (
    STREAM_CONNECTED_EVENT,
    STREAM_END_EVENT,
    STREAM_ERROR_EVENT,
    STREAM_START_EVENT,
)

__all__ = [
    "INIT_FAILED_EVENT",
    "IQ",
    "NS_STREAMS",
    "NS_XMPP_TLS",
    "STREAM_AUTHD_EVENT",
    "STREAM_CONNECTED_EVENT",
    "STREAM_END_EVENT",
    "STREAM_ERROR_EVENT",
    "STREAM_START_EVENT",
    "Authenticator",
    "BaseFeatureInitiatingInitializer",
    "ConnectAuthenticator",
    "FeatureNotAdvertized",
    "ListenAuthenticator",
    "Reset",
    "StreamManager",
    "TLSError",
    "TLSFailed",
    "TLSInitiatingInitializer",
    "TLSNotSupported",
    "TLSRequired",
    "TimeoutError",
    "XMPPHandler",
    "XMPPHandlerCollection",
    "XmlStream",
    "XmlStreamFactory",
    "XmlStreamServerFactory",
    "hashPassword",
    "toResponse",
    "upgradeWithIQResponseTracker",
]

_log = Logger()

NS_STREAMS = "http://etherx.jabber.org/streams"
NS_XMPP_TLS = "urn:ietf:params:xml:ns:xmpp-tls"

STREAM_AUTHD_EVENT = "//event/stream/authd"
INIT_FAILED_EVENT = "//event/xmpp/initfailed"

Reset = object()
"""What an initializer's Deferred fires with when it restarted the stream."""


class TimeoutError(_TimeoutError):
    """No answer to an IQ request came in time."""


class FeatureNotAdvertized(Exception):
    """A required stream feature was not offered by the peer."""


class TLSError(Exception):
    """STARTTLS did not work."""


class TLSFailed(TLSError):
    """The server answered STARTTLS with ``<failure/>``."""


class TLSRequired(TLSError):
    """The server requires TLS, which this side does not want."""


class TLSNotSupported(TLSError):
    """TLS was required but the transport cannot start it."""


_counter = itertools.count(1)
_idPrefix = secrets.token_hex(4)


def _uniqueId() -> str:
    # Unguessable across connections (the prefix) and unique within the process.
    return f"{_idPrefix}{next(_counter)}"


def hashPassword(sid: str, password: str) -> str:
    """Return the XEP-0114 handshake digest: hex SHA-1 of the stream id and secret."""
    if not isinstance(sid, str) or not isinstance(password, str):
        raise TypeError("the stream id and the password are text")
    return hashlib.sha1((sid + password).encode("utf-8")).hexdigest()


def toResponse(stanza: Element, stanzaType: str | None = None) -> Element:
    """Return a reply to ``stanza``: the same kind, ``to``/``from`` swapped, same id.

    Args:
        stanzaType: the reply's ``type`` (``"result"``, ``"error"``).
    """
    response = Element((None, stanza.name))
    sender = stanza.getAttribute("from")
    recipient = stanza.getAttribute("to")
    stanzaId = stanza.getAttribute("id")
    if sender:
        response["to"] = sender
    if recipient:
        response["from"] = recipient
    if stanzaId:
        response["id"] = stanzaId
    if stanzaType:
        response["type"] = stanzaType
    return response


class Authenticator:
    """Drives a stream's set-up; the base of the connect and listen sides."""

    namespace: str | None = None
    xmlstream: XmlStream

    def connectionMade(self) -> None:
        """The connection is up (the stream is ``self.xmlstream``)."""

    def streamStarted(self, rootElement: Element) -> None:
        """The peer's stream header arrived."""

    def associateWithStream(self, xs: XmlStream) -> None:
        """Take charge of ``xs`` (set its initializers)."""
        self.xmlstream = xs


class ConnectAuthenticator(Authenticator):
    """The initiating side: header, features, then the initializers in order.

    Args:
        otherHost: the domain to connect to (the header's ``to``).
    """

    def __init__(self, otherHost: str) -> None:
        self.otherHost = otherHost

    def connectionMade(self) -> None:
        """Send the stream header."""
        self.xmlstream.namespace = self.namespace or self.xmlstream.namespace
        self.xmlstream.otherEntity = jid.internJID(self.otherHost)
        self.xmlstream.sendHeader()

    def streamStarted(self, rootElement: Element) -> None:
        """Wait for the features (XMPP 1.0), or start initializing (older streams)."""
        xs = self.xmlstream
        xs.features = {}
        if xs.version >= (1, 0):
            xs.addOnetimeObserver(f"/features[@xmlns='{NS_STREAMS}']", self.onFeatures)
        else:
            self.initializeStream()

    def onFeatures(self, element: Element) -> None:
        """Record the offered features and run the initializers."""
        self.xmlstream.features = {(f.uri or "", f.name): f for f in element.elements()}
        self.initializeStream()

    def initializeStream(self) -> None:
        """Run the stream's remaining initializers, one after the other."""
        xs = self.xmlstream

        def step(result: object) -> Deferred[Any] | None:
            if result is Reset:
                return None
            if not xs.initializers:
                xs.dispatch(xs, STREAM_AUTHD_EVENT)
                return None
            initializer = xs.initializers[0]
            d = defer.maybeDeferred(initializer.initialize)
            d.addCallback(done, initializer)
            d.addCallback(step)
            return d

        def done(result: object, initializer: object) -> object:
            if xs.initializers and xs.initializers[0] is initializer:
                xs.initializers.pop(0)
            return result

        def failed(reason: Failure) -> None:
            xs.initializers = []
            xs.dispatch(reason, INIT_FAILED_EVENT)
            if xs.connected:
                xs.sendFooter()
                xs.transport.loseConnection()

        d: Deferred[Any] = defer.succeed(None)
        d.addCallback(step)
        d.addErrback(failed)


class ListenAuthenticator(Authenticator):
    """The receiving side's base: answers the peer's header with its own."""

    def associateWithStream(self, xs: XmlStream) -> None:
        """Mark the stream as not initiating."""
        super().associateWithStream(xs)
        xs.initiating = False

    def streamStarted(self, rootElement: Element) -> None:
        """Take this side's name from the header's ``to``."""
        xs = self.xmlstream
        xs.namespace = self.namespace or xs.namespace
        to = rootElement.getAttribute("to")
        if to is not None:
            xs.thisEntity = jid.internJID(to)


class BaseFeatureInitiatingInitializer:
    """An initializer that runs when the peer offers its ``feature``.

    Subclasses set ``feature`` to ``(namespace, name)`` and implement ``start``.

    Args:
        required: fail with FeatureNotAdvertized when the feature is not offered
            (otherwise the initializer is skipped).
    """

    feature: tuple[str, str] = ("", "")

    def __init__(self, xs: XmlStream, required: bool = False) -> None:
        self.xmlstream = xs
        self.required = required

    def initialize(self) -> Deferred[Any] | None:
        """Start if the feature is offered; fail or skip otherwise."""
        if self.feature in self.xmlstream.features:
            return self.start()
        if self.required:
            raise FeatureNotAdvertized(
                f"the server does not offer {self.feature[1]!r} ({self.feature[0]}), "
                f"which this client requires"
            )
        return None

    def start(self) -> Deferred[Any] | None:
        """Use the feature."""
        return None


class TLSInitiatingInitializer(BaseFeatureInitiatingInitializer):
    """STARTTLS (RFC 6120 section 5).

    Args:
        required: refuse to go on without TLS (the default: passwords follow).
        configurationForTLS: the client TLS options; by default
            ``optionsForClientTLS(server domain)``, which checks the certificate
            against the system's trust store and the server's domain.

    ``wanted = False`` skips TLS (only sensible with ``required=False``).
    """

    feature = (NS_XMPP_TLS, "starttls")
    wanted = True

    def __init__(
        self, xs: XmlStream, required: bool = True, configurationForTLS: Any = None
    ) -> None:
        super().__init__(xs, required)
        self._configurationForTLS = configurationForTLS
        self._deferred: Deferred[Any] | None = None

    def initialize(self) -> Deferred[Any] | None:
        """Start TLS if offered; without the feature, fail if TLS is required."""
        if self.feature not in self.xmlstream.features and self.required:
            return defer.fail(
                TLSNotSupported(
                    "the server does not offer STARTTLS, and this client requires TLS "
                    "(give required=False to the TLS initializer to allow plain text)"
                )
            )
        return super().initialize()

    def start(self) -> Deferred[Any] | None:
        """Ask for TLS, then start it when the server says ``<proceed/>``."""
        xs = self.xmlstream
        if not self.wanted:
            offered = xs.features.get(self.feature)
            if offered is not None and next(offered.elements(name="required"), None):
                return defer.fail(TLSRequired("the server requires TLS"))
            return None
        if not hasattr(xs.transport, "startTLS"):
            if self.required:
                return defer.fail(TLSNotSupported("this transport cannot start TLS"))
            return None
        self._deferred = Deferred()
        xs.addOnetimeObserver(f"/proceed[@xmlns='{NS_XMPP_TLS}']", self.onProceed)
        xs.addOnetimeObserver(f"/failure[@xmlns='{NS_XMPP_TLS}']", self.onFailure)
        xs.send(Element((NS_XMPP_TLS, "starttls")))
        return self._deferred

    def onProceed(self, obj: Element) -> None:
        """Start TLS and a new stream over it."""
        xs = self.xmlstream
        xs.removeObserver(f"/failure[@xmlns='{NS_XMPP_TLS}']", self.onFailure)
        options = self._configurationForTLS
        if options is None:
            from torsion.internet import ssl

            options = ssl.optionsForClientTLS(xs.otherEntity.host if xs.otherEntity else "")
        d, self._deferred = self._deferred, None
        try:
            xs.transport.startTLS(options)
        except Exception as e:
            if d is not None:
                d.errback(Failure(e))
            return
        xs.reset()
        xs.sendHeader()
        if d is not None:
            d.callback(Reset)

    def onFailure(self, obj: Element) -> None:
        """The server refused STARTTLS."""
        self.xmlstream.removeObserver(f"/proceed[@xmlns='{NS_XMPP_TLS}']", self.onProceed)
        d, self._deferred = self._deferred, None
        if d is not None:
            d.errback(Failure(TLSFailed("the server answered STARTTLS with <failure/>")))


class _Pending:
    __slots__ = ("call", "deferred", "to")

    def __init__(self, deferred: Deferred[Element], to: str | None) -> None:
        self.deferred = deferred
        self.to = to
        self.call: Any = None


@implementer(IIQResponseTracker)
class XmlStream(xish.XmlStream):
    """An XMPP stream (see the module's documentation).

    Args:
        authenticator: what sets the stream up (ConnectAuthenticator, ...).

    Attributes:
        version: the stream version both sides speak, ``(1, 0)`` unless the peer is older.
        sid: the stream id (the receiving side chooses it).
        thisEntity, otherEntity: this side's and the peer's JIDs, when known.
        features: the features the peer offered, ``{(uri, name): element}``.
        initializers: what the authenticator still has to run.
        iqDefaultTimeout: seconds before an IQ request without its own timeout fails
            (None: wait as long as the connection lasts).
        clock: the IReactorTime for timeouts (default: the factory's, else the reactor).
    """

    version = (1, 0)
    namespace = "invalid"
    iqDefaultTimeout: float | None = None

    def __init__(self, authenticator: Authenticator) -> None:
        super().__init__()
        self.authenticator = authenticator
        self.initiating = True
        self.sid: str | None = None
        self.thisEntity: jid.JID | None = None
        self.otherEntity: jid.JID | None = None
        self.features: dict[tuple[str, str], Element] = {}
        self.initializers: list[Any] = []
        self.clock: Any = None
        self._headerSent = False
        self._iqs: dict[str, _Pending] = {}
        self.addObserver(f"/error[@xmlns='{NS_STREAMS}']", self._onStreamErrorElement, 100)
        self.addObserver("/iq[@type='result']", self._onIQResponse, 100)
        self.addObserver("/iq[@type='error']", self._onIQResponse, 100)
        authenticator.associateWithStream(self)

    # -- the stream ---------------------------------------------------------------

    def _callLater(self, delay: float, f: Callable[..., object], *args: Any) -> Any:
        clock: Any = self.clock or getattr(self.factory, "clock", None)
        if clock is None:
            from torsion.internet import reactor as clock
        return clock.callLater(delay, f, *args)

    def connectionMade(self) -> None:
        """Dispatch STREAM_CONNECTED_EVENT, then let the authenticator start."""
        super().connectionMade()
        self.authenticator.connectionMade()

    def reset(self) -> None:
        """Start a new stream on the same connection (after STARTTLS or SASL)."""
        self.resetParser()
        self._headerSent = False

    def sendHeader(self) -> None:
        """Send this side's stream header."""
        parts = [
            "<?xml version='1.0'?><stream:stream",
            f" xmlns='{escapeToXml(self.namespace, True)}'",
            f" xmlns:stream='{NS_STREAMS}'",
        ]
        if self.otherEntity is not None:
            parts.append(f" to='{escapeToXml(self.otherEntity.full(), True)}'")
        component = self.namespace != "jabber:client"
        if self.thisEntity is not None and (not self.initiating or component):
            parts.append(f" from='{escapeToXml(self.thisEntity.full(), True)}'")
        if not self.initiating:
            if self.sid is None:
                self.sid = secrets.token_hex(8)
            parts.append(f" id='{self.sid}'")
        if self.version >= (1, 0):
            parts.append(f" version='{self.version[0]}.{self.version[1]}'")
        parts.append(">")
        self._headerSent = True
        self.send("".join(parts))

    def sendFooter(self) -> None:
        """End this side's stream."""
        self.send("</stream:stream>")

    def sendStreamError(self, streamError: error.StreamError) -> None:
        """Send ``streamError``, end the stream and close the connection."""
        if not self.connected:
            return
        if not self._headerSent and not self.initiating:
            self.sendHeader()
        if self._headerSent:
            self.send(streamError.getElement())
            self.sendFooter()
        self.transport.loseConnection()

    def send(self, obj: Element | str | bytes) -> None:
        """Send an element (stream-level ones with the ``stream:`` prefix) or text."""
        if isinstance(obj, Element) and obj.uri == NS_STREAMS:
            inner = "".join(
                child.toXml() if isinstance(child, Element) else escapeToXml(child)
                for child in obj.children
            )
            attributes = "".join(
                f' {key}="{escapeToXml(value, True)}"'
                for key, value in obj.attributes.items()
                if isinstance(key, str)
            )
            obj = f"<stream:{obj.name}{attributes}>{inner}</stream:{obj.name}>"
        super().send(obj)

    def onDocumentStart(self, rootElement: Element) -> None:
        """Read the peer's header, then let the authenticator go on."""
        if rootElement.uri != NS_STREAMS or rootElement.name != "stream":
            self.sendStreamError(
                error.StreamError("invalid-namespace", "the stream must start with <stream:stream>")
            )
            return
        self.sid = rootElement.getAttribute("id", self.sid)
        version = rootElement.getAttribute("version")
        peerVersion = (0, 0)
        if version is not None:
            major, _, minor = version.partition(".")
            if major.isdigit() and minor.isdigit():
                peerVersion = (int(major), int(minor))
        self.version = min(self.version, peerVersion)
        try:
            to = rootElement.getAttribute("to")
            if to is not None and not self.initiating:
                self.thisEntity = jid.internJID(to)
            sender = rootElement.getAttribute("from")
            if sender is not None:
                self.otherEntity = jid.internJID(sender)
        except jid.InvalidFormat as e:
            self.sendStreamError(error.StreamError("improper-addressing", str(e)))
            return
        super().onDocumentStart(rootElement)
        self.authenticator.streamStarted(rootElement)

    def onElement(self, element: Element) -> None:
        """Dispatch ``element``; answer an IQ request nobody handled."""
        handled = self.dispatch(element)
        if (
            not handled
            and element.name == "iq"
            and element.getAttribute("type") in ("get", "set")
            and self.connected
        ):
            self.send(
                error.StanzaError(
                    "service-unavailable", text="nothing here handles this request"
                ).toResponse(element)
            )

    def onStreamError(self, message: str) -> None:
        """The peer's XML broke: answer with a stream error, then drop the connection."""
        if self.connected and self._headerSent:
            condition = "policy-violation" if "the limit" in message else "not-well-formed"
            self.send(error.StreamError(condition, message).getElement())
            self.sendFooter()
        super().onStreamError(message)

    def _onStreamErrorElement(self, element: Element) -> None:
        self.dispatch(Failure(error.exceptionFromStreamError(element)), STREAM_ERROR_EVENT)
        if self.connected:
            self.transport.loseConnection()

    def connectionLost(self, reason: object = None) -> None:
        """Fail the IQ requests still waiting, then dispatch STREAM_END_EVENT."""
        pending, self._iqs = self._iqs, {}
        failure = reason if isinstance(reason, Failure) else Failure(ConnectionLost())
        for waiting in pending.values():
            if waiting.call is not None and waiting.call.active():
                waiting.call.cancel()
            waiting.deferred.errback(failure)
        super().connectionLost(reason)

    # -- IQ tracking --------------------------------------------------------------

    @property
    def iqDeferreds(self) -> dict[str, Deferred[Element]]:
        """The Deferreds of the IQ requests waiting for an answer, by stanza id."""
        return {stanzaId: waiting.deferred for stanzaId, waiting in self._iqs.items()}

    def _trackIQ(self, iq: IQ, timeout: float | None) -> Deferred[Element]:
        d: Deferred[Element] = Deferred()
        stanzaId = iq["id"]
        waiting = self._iqs[stanzaId] = _Pending(d, iq.getAttribute("to"))
        if timeout is not None:
            waiting.call = self._callLater(timeout, self._timedOut, stanzaId, timeout)
        return d

    def _timedOut(self, stanzaId: str, timeout: float) -> None:
        waiting = self._iqs.pop(stanzaId, None)
        if waiting is not None:
            waiting.deferred.errback(
                Failure(
                    TimeoutError(
                        f"no answer to the IQ request {stanzaId!r} within {timeout} seconds"
                    )
                )
            )

    def _fromExpected(self, sender: str | None, to: str | None) -> bool:
        if sender == to:
            return True
        try:
            senderJID = jid.internJID(sender) if sender is not None else None
            if to is not None:
                return senderJID == jid.internJID(to)
        except jid.InvalidFormat:
            return False
        # A request with no "to" goes to our own account or server: either may answer.
        if senderJID is None:
            return True
        own = {self.thisEntity, self.otherEntity}
        if self.thisEntity is not None:
            own.add(self.thisEntity.userhostJID())
            own.add(jid.internJID(self.thisEntity.host))
        return senderJID in own

    def _onIQResponse(self, iq: Element) -> None:
        stanzaId = iq.getAttribute("id")
        waiting = self._iqs.get(stanzaId) if stanzaId is not None else None
        if waiting is None or not self._fromExpected(iq.getAttribute("from"), waiting.to):
            return
        del self._iqs[stanzaId]  # type: ignore[arg-type]
        if waiting.call is not None and waiting.call.active():
            waiting.call.cancel()
        if iq.getAttribute("type") == "result":
            waiting.deferred.callback(iq)
        else:
            waiting.deferred.errback(Failure(error.exceptionFromStanza(iq)))


class IQ(Element):
    """An IQ request whose ``send`` returns a Deferred of the response.

    Args:
        xmlstream: the stream to send on.
        stanzaType: ``"get"`` or ``"set"``.

    Set ``timeout`` (seconds) to fail with TimeoutError when no answer comes.
    """

    timeout: float | None = None

    def __init__(self, xmlstream: XmlStream, stanzaType: str = "set") -> None:
        super().__init__((None, "iq"))
        self["id"] = _uniqueId()
        self["type"] = stanzaType
        self._xmlstream = xmlstream

    def send(self, to: str | None = None) -> Deferred[Element]:
        """Send the request (to ``to`` if given) and return a Deferred of the answer.

        The Deferred fires with the ``result`` stanza, or fails with
        error.StanzaError (an ``error`` answer), TimeoutError, or the reason the
        connection was lost.
        """
        if to is not None:
            self["to"] = to
        xs = self._xmlstream
        timeout = self.timeout if self.timeout is not None else xs.iqDefaultTimeout
        d = xs._trackIQ(self, timeout)
        xs.send(self)
        return d


class XmlStreamFactory(xish.XmlStreamFactory):
    """A reconnecting client factory of XMPP streams for ``authenticator``."""

    protocol = XmlStream

    def __init__(self, authenticator: Authenticator) -> None:
        super().__init__(authenticator)
        self.authenticator = authenticator


class XmlStreamServerFactory(xish.XmlStreamFactoryMixin, protocol.ServerFactory):
    """A server factory: each connection gets a stream with a new authenticator.

    Args:
        authenticatorFactory: makes one authenticator per connection.
    """

    protocol = XmlStream

    def __init__(self, authenticatorFactory: Callable[[], Authenticator]) -> None:
        super().__init__()
        self.authenticatorFactory = authenticatorFactory

    def buildProtocol(self, addr: Any) -> Any:
        """Build a stream with a fresh authenticator."""
        xs = self.protocol(self.authenticatorFactory())
        xs.factory = self
        self.installBootstraps(xs)
        return xs


def upgradeWithIQResponseTracker(xs: XmlStream) -> None:
    """Twisted's way to make a stream track IQ answers; every XmlStream here does."""
    if not IIQResponseTracker.providedBy(xs):
        raise TypeError(f"{type(xs).__name__} is not an XMPP XmlStream, which tracks IQs itself")
