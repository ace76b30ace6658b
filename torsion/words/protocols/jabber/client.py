"""XMPP clients: the authenticator, the factory, and a small API for chatting.

``XMPPClientFactory(jid, password)`` makes streams that log in the way RFC 6120 says:
STARTTLS (required; the server's certificate is checked for its domain unless
``configurationForTLS`` says otherwise), SASL, resource binding (the server may
choose the resource; ``xs.authenticator.jid`` is the full JID it bound), and the
legacy session if the server still asks for one. Then the stream dispatches
``STREAM_AUTHD_EVENT``; a failure dispatches ``INIT_FAILED_EVENT`` with the reason.
Twisted's names: XMPPAuthenticator, BindInitializer, SessionInitializer,
CheckVersionInitializer, XMPPClientFactory.

Beyond Twisted (which leaves these to other libraries): ``connectClient`` connects
and logs in, returning a Deferred of the ready stream (and never reconnects on its
own); ``sendPresence``, ``sendMessage`` and ``getRoster`` (RFC 6121) are the common
stanzas.
Tests: tests/words/test_xmppserver.py and tests/words/test_xmppprosody.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torsion.internet.defer import Deferred
from torsion.internet.error import TimeoutError as _TimeoutError
from torsion.protocols._xmlelement import Element
from torsion.python.failure import Failure
from torsion.words.protocols.jabber import error, jid, sasl, xmlstream
from torsion.words.protocols.jabber.xmlstream import IQ

__all__ = [
    "NS_CLIENT",
    "NS_ROSTER",
    "NS_XMPP_BIND",
    "NS_XMPP_SESSION",
    "ROSTER_PUSH_EVENT",
    "BindInitializer",
    "CheckVersionInitializer",
    "RosterItem",
    "SessionInitializer",
    "XMPPAuthenticator",
    "XMPPClientFactory",
    "connectClient",
    "getRoster",
    "sendMessage",
    "sendPresence",
    "setRosterItem",
]

NS_CLIENT = "jabber:client"
NS_XMPP_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_XMPP_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_ROSTER = "jabber:iq:roster"

ROSTER_PUSH_EVENT = "//event/xmpp/rosterpush"
"""Dispatched with the list of RosterItems of each roster push (RFC 6121 2.1.6) the
server sends; an item whose ``subscription`` is ``"remove"`` was deleted."""


class CheckVersionInitializer:
    """Refuses streams older than XMPP 1.0 (no TLS, SASL or binding there)."""

    def __init__(self, xs: xmlstream.XmlStream) -> None:
        self.xmlstream = xs

    def initialize(self) -> None:
        """Raise a StreamError if the peer's stream is older than 1.0."""
        if self.xmlstream.version < (1, 0):
            raise error.StreamError(
                "unsupported-version", "the server's stream is older than XMPP 1.0"
            )


class BindInitializer(xmlstream.BaseFeatureInitiatingInitializer):
    """Binds a resource (RFC 6120 section 7) and records the full JID the server gave."""

    feature = (NS_XMPP_BIND, "bind")

    def start(self) -> Deferred[Any]:
        """Ask for the authenticator's JID's resource (or any, if it has none)."""
        authenticator: Any = self.xmlstream.authenticator
        iq = IQ(self.xmlstream, "set")
        bind = iq.addElement((NS_XMPP_BIND, "bind"))
        if authenticator.jid.resource:
            bind.addElement("resource", content=authenticator.jid.resource)
        d = iq.send()
        d.addCallback(self.onBind)
        return d

    def onBind(self, iq: Element) -> None:
        """Take the bound full JID from the answer."""
        authenticator: Any = self.xmlstream.authenticator
        bind = next(iq.elements(NS_XMPP_BIND, "bind"), None)
        found = next(bind.elements(NS_XMPP_BIND, "jid"), None) if bind is not None else None
        if found is not None:
            authenticator.jid = jid.JID(str(found).strip())
        self.xmlstream.thisEntity = authenticator.jid


class SessionInitializer(xmlstream.BaseFeatureInitiatingInitializer):
    """Establishes the legacy session (RFC 3921), unless the server marks it optional."""

    feature = (NS_XMPP_SESSION, "session")

    def start(self) -> Deferred[Any] | None:
        """Send the session request."""
        offered = self.xmlstream.features[self.feature]
        if next(offered.elements(name="optional"), None) is not None:
            return None
        iq = IQ(self.xmlstream, "set")
        iq.addElement((NS_XMPP_SESSION, "session"))
        return iq.send()


class XMPPAuthenticator(xmlstream.ConnectAuthenticator):
    """Logs a client in as ``jid`` with ``password`` (see the module's documentation).

    Args:
        jid: the account, a JID (a resource is asked for when it has one).
        password: the account's password.
        configurationForTLS: client TLS options for STARTTLS (default: verify the
            server's certificate for the JID's domain against the system's trust).
    """

    namespace = NS_CLIENT

    def __init__(self, jid: jid.JID, password: str, configurationForTLS: Any = None) -> None:
        super().__init__(jid.host)
        self.jid = jid
        self.password = password
        self._configurationForTLS = configurationForTLS

    def associateWithStream(self, xs: xmlstream.XmlStream) -> None:
        """Give the stream the client's initializers."""
        super().associateWithStream(xs)
        xs.initializers = [
            CheckVersionInitializer(xs),
            xmlstream.TLSInitiatingInitializer(
                xs, required=True, configurationForTLS=self._configurationForTLS
            ),
            sasl.SASLInitiatingInitializer(xs, required=True),
            BindInitializer(xs, required=True),
            SessionInitializer(xs, required=False),
        ]
        xs.addObserver(f"/iq[@type='set']/query[@xmlns='{NS_ROSTER}']", self._onRosterPush, 0, xs)

    def _onRosterPush(self, iq: Element, xs: xmlstream.XmlStream) -> None:
        sender = iq.getAttribute("from")
        if sender is not None:
            try:
                if jid.internJID(sender) != self.jid.userhostJID():
                    return  # Only our own server may push (RFC 6121 2.1.6): ignore it.
            except jid.InvalidFormat:
                return
        xs.send(xmlstream.toResponse(iq, "result"))
        query = next(iq.elements(NS_ROSTER, "query"))
        xs.dispatch(_rosterItems(query), ROSTER_PUSH_EVENT)


def XMPPClientFactory(
    jid: jid.JID, password: str, configurationForTLS: Any = None
) -> xmlstream.XmlStreamFactory:
    """Return a (reconnecting) factory of client streams that log in as ``jid``."""
    return xmlstream.XmlStreamFactory(XMPPAuthenticator(jid, password, configurationForTLS))


class _OneShotFactory(xmlstream.XmlStreamFactory):
    continueTrying = False

    def buildProtocol(self, addr: Any) -> Any:
        xs = super().buildProtocol(addr)
        self.continueTrying = False
        return xs


def connectClient(
    reactor: Any,
    account: jid.JID | str,
    password: str,
    host: str | None = None,
    port: int = 5222,
    configurationForTLS: Any = None,
    timeout: float = 30,
    tls: bool = True,
) -> Deferred[xmlstream.XmlStream]:
    """Connect to the server of ``account``, log in, and return the ready stream.

    The Deferred fires with the XmlStream once it is logged in and bound
    (``xs.authenticator.jid`` is the full JID), or fails with what went wrong (the
    connection, TLS, ``sasl.SASLAuthError`` for a bad password, a stream error) or
    with TimeoutError after ``timeout`` seconds. Nothing is retried.

    Args:
        host: where to connect (default: the JID's domain; SRV records are not read).
        tls: False allows a server without STARTTLS (and PLAIN in clear): for tests
            on 127.0.0.1 only.
    """
    if isinstance(account, str):
        account = jid.JID(account)
    factory = _OneShotFactory(XMPPAuthenticator(account, password, configurationForTLS))
    factory.clock = reactor
    result: Deferred[xmlstream.XmlStream] = Deferred()
    connector: Any = None

    def finish(outcome: Any) -> None:
        if call.active():
            call.cancel()
        if not result.called:
            if isinstance(outcome, Failure):
                result.errback(outcome)
            else:
                result.callback(outcome)

    def connected(xs: xmlstream.XmlStream) -> None:
        xs.clock = reactor
        if not tls:
            for initializer in xs.initializers:
                if isinstance(initializer, xmlstream.TLSInitiatingInitializer):
                    initializer.required = False
                    initializer.wanted = False
                elif isinstance(initializer, sasl.SASLInitiatingInitializer):
                    initializer.allowPlainWithoutTLS = True
        xs.addOnetimeObserver(xmlstream.STREAM_AUTHD_EVENT, lambda _: finish(xs))
        xs.addOnetimeObserver(xmlstream.INIT_FAILED_EVENT, finish)
        xs.addOnetimeObserver(xmlstream.STREAM_ERROR_EVENT, finish)
        xs.addOnetimeObserver(
            xmlstream.STREAM_END_EVENT,
            lambda reason: finish(
                reason if isinstance(reason, Failure) else Failure(Exception(str(reason)))
            ),
        )

    def failedToConnect(connector: Any, reason: Failure) -> None:
        finish(reason)

    def timedOut() -> None:
        if connector is not None:
            connector.disconnect()
        finish(Failure(_TimeoutError(f"the login did not finish within {timeout} seconds")))

    factory.addBootstrap(xmlstream.STREAM_CONNECTED_EVENT, connected)
    factory.clientConnectionFailed = failedToConnect  # type: ignore[method-assign]
    call = reactor.callLater(timeout, timedOut)
    connector = reactor.connectTCP(host or account.host, port, factory)
    return result


def sendPresence(
    xs: xmlstream.XmlStream,
    type: str | None = None,
    to: str | None = None,
    show: str | None = None,
    status: str | None = None,
    priority: int | None = None,
) -> Element:
    """Send a presence stanza (no arguments: "available") and return it.

    ``type`` is ``"unavailable"``, ``"subscribe"``, ``"subscribed"``, ... (RFC 6121).
    """
    presence = Element((None, "presence"))
    if type is not None:
        presence["type"] = type
    if to is not None:
        presence["to"] = to
    if show is not None:
        presence.addElement("show", content=show)
    if status is not None:
        presence.addElement("status", content=status)
    if priority is not None:
        presence.addElement("priority", content=str(int(priority)))
    xs.send(presence)
    return presence


def sendMessage(
    xs: xmlstream.XmlStream,
    to: str,
    body: str,
    type: str = "chat",
    subject: str | None = None,
) -> Element:
    """Send a message stanza with ``body`` to ``to`` and return it."""
    message = Element((None, "message"))
    message["to"] = to
    message["type"] = type
    message["id"] = xmlstream._uniqueId()
    if subject is not None:
        message.addElement("subject", content=subject)
    message.addElement("body", content=body)
    xs.send(message)
    return message


@dataclass
class RosterItem:
    """One contact of the roster: JID, name, subscription state and groups."""

    jid: jid.JID
    name: str | None = None
    subscription: str = "none"
    ask: str | None = None
    groups: list[str] = field(default_factory=list)


def _rosterItems(query: Element) -> list[RosterItem]:
    items: list[RosterItem] = []
    for item in query.elements(NS_ROSTER, "item"):
        try:
            contact = jid.internJID(item.getAttribute("jid") or "")
        except jid.InvalidFormat:
            continue
        items.append(
            RosterItem(
                contact,
                item.getAttribute("name"),
                item.getAttribute("subscription", "none") or "none",
                item.getAttribute("ask"),
                [str(g) for g in item.elements(NS_ROSTER, "group")],
            )
        )
    return items


def getRoster(xs: xmlstream.XmlStream, timeout: float | None = 30) -> Deferred[list[RosterItem]]:
    """Ask the server for the roster; the Deferred fires with its items.

    Items whose JID is invalid are left out (a server should not send them).
    """
    iq = IQ(xs, "get")
    iq.addElement((NS_ROSTER, "query"))
    iq.timeout = timeout

    def parse(result: Element) -> list[RosterItem]:
        query = next(result.elements(NS_ROSTER, "query"), None)
        return _rosterItems(query) if query is not None else []

    return iq.send().addCallback(parse)


def setRosterItem(
    xs: xmlstream.XmlStream,
    contact: jid.JID,
    name: str | None = None,
    groups: list[str] | None = None,
    remove: bool = False,
    timeout: float | None = 30,
) -> Deferred[Element]:
    """Add or change a roster item (``remove=True``: delete it); fires with the answer."""
    iq = IQ(xs, "set")
    item = iq.addElement((NS_ROSTER, "query")).addElement("item")
    item["jid"] = contact.full()
    if remove:
        item["subscription"] = "remove"
    else:
        if name is not None:
            item["name"] = name
        for group in groups or ():
            item.addElement("group", content=group)
    iq.timeout = timeout
    return iq.send()
