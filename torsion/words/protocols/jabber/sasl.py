"""SASL authentication of an XMPP stream (RFC 6120 section 6), client side.

``SASLInitiatingInitializer`` is the initializer for the ``<mechanisms/>`` feature:
it picks the best mechanism both sides have (SCRAM-SHA-256, then SCRAM-SHA-1, then
PLAIN; ANONYMOUS for a JID without a user), runs the exchange of
``<auth/>``, ``<challenge/>``, ``<response/>`` and ``<success/>`` or
``<failure/>``, and on success restarts the stream. PLAIN sends the password
itself, so it is only used over TLS unless ``allowPlainWithoutTLS`` is set. A
refused login fails with ``SASLAuthError`` carrying the server's condition
(``"not-authorized"``) and text.
Tests: tests/words/test_jabbersasl.py and tests/words/test_xmppserver.py.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from torsion.internet import defer
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import ISSLTransport
from torsion.protocols._xmlelement import Element
from torsion.python.failure import Failure
from torsion.words.protocols.jabber import sasl_mechanisms, xmlstream

__all__ = [
    "NS_XMPP_SASL",
    "SASLAuthError",
    "SASLError",
    "SASLIncorrectEncodingError",
    "SASLInitiatingInitializer",
    "SASLNoAcceptableMechanism",
    "fromBase64",
    "get_mechanisms",
]

NS_XMPP_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


class SASLError(Exception):
    """SASL authentication failed."""


class SASLNoAcceptableMechanism(SASLError):
    """The server offers no mechanism this client is willing to use."""


class SASLAuthError(SASLError):
    """The server refused the login (or its answers did not verify).

    Args:
        condition: the SASL condition the server gave (``"not-authorized"``).
        text: its explanation, if any.
    """

    def __init__(self, condition: str | None = None, text: str | None = None) -> None:
        super().__init__(condition, text)
        self.condition = condition
        self.text = text

    def __str__(self) -> str:
        words = f"SASL authentication failed: {self.condition or 'no condition given'}"
        return words + (f" ({self.text})" if self.text else "")


class SASLIncorrectEncodingError(SASLError):
    """The server sent SASL data that is not valid base64."""


def get_mechanisms(xs: xmlstream.XmlStream) -> list[str]:
    """Return the SASL mechanisms the peer offered on ``xs``."""
    feature = xs.features.get((NS_XMPP_SASL, "mechanisms"))
    if feature is None:
        return []
    return [str(m).strip() for m in feature.elements(NS_XMPP_SASL, "mechanism")]


def fromBase64(s: str) -> bytes:
    """Decode SASL data from an element's text (``"="`` is the empty payload).

    Raises:
        SASLIncorrectEncodingError: if ``s`` is not valid base64.
    """
    s = s.strip()
    if s in ("", "="):
        return b""
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise SASLIncorrectEncodingError(
            f"the server's SASL data {s[:40]!r} is not base64"
        ) from None


def _toBase64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii") if data else "="


class SASLInitiatingInitializer(xmlstream.BaseFeatureInitiatingInitializer):
    """Logs in with SASL, using the authenticator's ``jid`` and ``password``.

    Set ``allowPlainWithoutTLS = True`` to allow PLAIN on an unencrypted stream.
    """

    feature = (NS_XMPP_SASL, "mechanisms")
    allowPlainWithoutTLS = False
    mechanism: Any = None

    def __init__(self, xs: xmlstream.XmlStream, required: bool = True) -> None:
        super().__init__(xs, required)
        self._deferred: Deferred[Any] | None = None

    def setMechanism(self) -> None:
        """Choose the mechanism (see the module's documentation)."""
        authenticator: Any = self.xmlstream.authenticator
        account = authenticator.jid
        password = getattr(authenticator, "password", None)
        offered = get_mechanisms(self.xmlstream)
        if account.user is None:
            if "ANONYMOUS" in offered:
                self.mechanism = sasl_mechanisms.Anonymous()
                return
            raise SASLNoAcceptableMechanism(
                f"the JID {account.full()!r} has no user and the server does not offer "
                f"ANONYMOUS (it offers {', '.join(offered) or 'nothing'})"
            )
        if password is None:
            raise SASLNoAcceptableMechanism("no password was given for the login")
        for name, hashName in (("SCRAM-SHA-256", "sha256"), ("SCRAM-SHA-1", "sha1")):
            if name in offered:
                self.mechanism = sasl_mechanisms.SCRAM(hashName, account.user, password)
                return
        if "PLAIN" in offered:
            encrypted = ISSLTransport.providedBy(self.xmlstream.transport)
            if encrypted or self.allowPlainWithoutTLS:
                self.mechanism = sasl_mechanisms.Plain(None, account.user, password)
                return
            raise SASLNoAcceptableMechanism(
                "the server offers only PLAIN, which would send the password in clear "
                "on this unencrypted stream; use TLS (or set allowPlainWithoutTLS)"
            )
        raise SASLNoAcceptableMechanism(
            f"the server offers {', '.join(offered) or 'no mechanisms'}; this client "
            f"speaks SCRAM-SHA-256, SCRAM-SHA-1, PLAIN and ANONYMOUS"
        )

    def start(self) -> Deferred[Any]:
        """Send ``<auth/>`` and return a Deferred of the outcome."""
        try:
            self.setMechanism()
        except SASLError as e:
            return defer.fail(e)
        xs = self.xmlstream
        self._deferred = Deferred()
        xs.addObserver(f"/challenge[@xmlns='{NS_XMPP_SASL}']", self.onChallenge)
        xs.addOnetimeObserver(f"/success[@xmlns='{NS_XMPP_SASL}']", self.onSuccess)
        xs.addOnetimeObserver(f"/failure[@xmlns='{NS_XMPP_SASL}']", self.onFailure)
        self.sendAuth(self.mechanism.getInitialResponse())
        return self._deferred

    def sendAuth(self, data: bytes | None = None) -> None:
        """Send ``<auth mechanism=...>`` with the initial response."""
        auth = Element((NS_XMPP_SASL, "auth"))
        auth["mechanism"] = self.mechanism.name
        if data is not None:
            auth.addContent(_toBase64(data))
        self.xmlstream.send(auth)

    def sendResponse(self, data: bytes = b"") -> None:
        """Send a ``<response/>``."""
        response = Element((NS_XMPP_SASL, "response"))
        response.addContent(_toBase64(data))
        self.xmlstream.send(response)

    def _stop(self) -> Deferred[Any] | None:
        xs = self.xmlstream
        xs.removeObserver(f"/challenge[@xmlns='{NS_XMPP_SASL}']", self.onChallenge)
        xs.removeObserver(f"/success[@xmlns='{NS_XMPP_SASL}']", self.onSuccess)
        xs.removeObserver(f"/failure[@xmlns='{NS_XMPP_SASL}']", self.onFailure)
        d, self._deferred = self._deferred, None
        return d

    def _fail(self, reason: Exception) -> None:
        d = self._stop()
        if self.xmlstream.connected:
            # Tell the server to stop (RFC 6120 6.4.5), then give up on the stream.
            self.xmlstream.send(Element((NS_XMPP_SASL, "abort")))
        if d is not None:
            d.errback(Failure(reason))

    def onChallenge(self, element: Element) -> None:
        """Answer a challenge."""
        try:
            response = self.mechanism.getResponse(fromBase64(str(element)))
        except (SASLError, ValueError) as e:
            self._fail(e if isinstance(e, SASLError) else SASLAuthError(None, str(e)))
            return
        self.sendResponse(response)

    def onSuccess(self, success: Element) -> None:
        """The login worked: check the server's proof, then restart the stream."""
        try:
            data = fromBase64(str(success))
            check = getattr(self.mechanism, "success", None)
            if check is not None:
                check(data)
        except (SASLError, ValueError) as e:
            self._fail(e if isinstance(e, SASLError) else SASLAuthError(None, str(e)))
            return
        d = self._stop()
        xs = self.xmlstream
        xs.reset()
        xs.sendHeader()
        if d is not None:
            d.callback(xmlstream.Reset)

    def onFailure(self, failure: Element) -> None:
        """The server refused the login."""
        condition = text = None
        for child in failure.elements():
            if child.name == "text":
                text = str(child)
            else:
                condition = child.name
        d = self._stop()
        if d is not None:
            d.errback(Failure(SASLAuthError(condition, text)))
