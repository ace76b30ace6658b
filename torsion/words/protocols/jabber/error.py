"""XMPP errors: stream errors and stanza errors, as exceptions and as elements.

RFC 6120 has two kinds. A stream error (``<stream:error>``) ends the whole stream;
a stanza error (``<error>`` inside an ``iq``, ``message`` or ``presence`` of type
``error``) answers one stanza. Both carry a defined condition (an element such as
``<item-not-found/>`` in their namespace), an optional human-readable text, and an
optional application-specific condition element. ``StreamError`` and
``StanzaError`` are exceptions that turn into those elements (``getElement``) and
back (``exceptionFromStreamError``, ``exceptionFromStanza``), with Twisted's names.
Tests: tests/words/test_jabbererror.py.
"""

from __future__ import annotations

from torsion.protocols.xmlstream import Element

__all__ = [
    "CONDITIONS",
    "NS_XML",
    "NS_XMPP_STANZAS",
    "NS_XMPP_STREAMS",
    "STREAM_CONDITIONS",
    "BaseError",
    "StanzaError",
    "StreamError",
    "exceptionFromStanza",
    "exceptionFromStreamError",
]

NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_XMPP_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_XMPP_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_STREAMS = "http://etherx.jabber.org/streams"

# Each stanza error condition with its default error type (RFC 6120 section 8.3.3) and
# the legacy numeric code older software sends (XEP-0086).
CONDITIONS: dict[str, dict[str, str]] = {
    "bad-request": {"code": "400", "type": "modify"},
    "conflict": {"code": "409", "type": "cancel"},
    "feature-not-implemented": {"code": "501", "type": "cancel"},
    "forbidden": {"code": "403", "type": "auth"},
    "gone": {"code": "302", "type": "modify"},
    "internal-server-error": {"code": "500", "type": "wait"},
    "item-not-found": {"code": "404", "type": "cancel"},
    "jid-malformed": {"code": "400", "type": "modify"},
    "not-acceptable": {"code": "406", "type": "modify"},
    "not-allowed": {"code": "405", "type": "cancel"},
    "not-authorized": {"code": "401", "type": "auth"},
    "payment-required": {"code": "402", "type": "auth"},
    "policy-violation": {"code": "403", "type": "modify"},
    "recipient-unavailable": {"code": "404", "type": "wait"},
    "redirect": {"code": "302", "type": "modify"},
    "registration-required": {"code": "407", "type": "auth"},
    "remote-server-not-found": {"code": "404", "type": "cancel"},
    "remote-server-timeout": {"code": "504", "type": "wait"},
    "resource-constraint": {"code": "500", "type": "wait"},
    "service-unavailable": {"code": "503", "type": "cancel"},
    "subscription-required": {"code": "407", "type": "auth"},
    "undefined-condition": {"code": "500", "type": "cancel"},
    "unexpected-request": {"code": "400", "type": "wait"},
}

# The stream error conditions of RFC 6120 section 4.9.3.
STREAM_CONDITIONS = frozenset(
    {
        "bad-format",
        "bad-namespace-prefix",
        "conflict",
        "connection-timeout",
        "host-gone",
        "host-unknown",
        "improper-addressing",
        "internal-server-error",
        "invalid-from",
        "invalid-namespace",
        "invalid-xml",
        "not-authorized",
        "not-well-formed",
        "policy-violation",
        "remote-connection-failed",
        "reset",
        "resource-constraint",
        "restricted-xml",
        "see-other-host",
        "system-shutdown",
        "undefined-condition",
        "unsupported-encoding",
        "unsupported-feature",
        "unsupported-stanza-type",
        "unsupported-version",
    }
)


class BaseError(Exception):
    """An XMPP error: a defined ``condition``, optional ``text`` and ``appCondition``.

    Args:
        condition: the defined condition's element name (``"item-not-found"``).
        text: words for a human, sent as the ``<text/>`` element.
        textLang: the language of ``text`` (``xml:lang``).
        appCondition: an application-specific condition element to send along.
    """

    namespace = ""

    def __init__(
        self,
        condition: str,
        text: str | None = None,
        textLang: str | None = None,
        appCondition: Element | None = None,
    ) -> None:
        super().__init__(condition, text, textLang, appCondition)
        self.condition = condition
        self.text = text
        self.textLang = textLang
        self.appCondition = appCondition

    def __str__(self) -> str:
        message = f"{type(self).__name__} with condition {self.condition!r}"
        if self.text:
            message += f": {self.text!r}"
        return message

    def getElement(self) -> Element:
        """Return the error as an ``<error/>`` element (in the right namespace)."""
        error = Element((None, "error"))
        error.addElement((self.namespace, self.condition))
        if self.text:
            text = error.addElement((self.namespace, "text"), content=self.text)
            if self.textLang:
                text[(NS_XML, "lang")] = self.textLang
        if self.appCondition is not None:
            error.addChild(self.appCondition)
        return error


class StreamError(BaseError):
    """A stream-level error: the stream ends after it is sent or received."""

    namespace = NS_XMPP_STREAMS

    def getElement(self) -> Element:
        """Return the ``<stream:error/>`` element."""
        error = super().getElement()
        error.uri = error.defaultUri = NS_STREAMS
        return error


class StanzaError(BaseError):
    """An error answering one stanza.

    Args:
        type: ``cancel``, ``continue``, ``modify``, ``auth`` or ``wait``; by default
            the condition's own (see CONDITIONS).
    """

    namespace = NS_XMPP_STANZAS
    stanza: Element | None = None  # the error stanza it came from, if received

    def __init__(
        self,
        condition: str,
        type: str | None = None,
        text: str | None = None,
        textLang: str | None = None,
        appCondition: Element | None = None,
    ) -> None:
        super().__init__(condition, text, textLang, appCondition)
        defaults = CONDITIONS.get(condition, {})
        self.type = type if type is not None else defaults.get("type", "cancel")
        self.code = defaults.get("code")

    def getElement(self) -> Element:
        """Return the ``<error type=...>`` element (with the legacy ``code`` too)."""
        error = super().getElement()
        error["type"] = self.type
        if self.code is not None:
            error["code"] = self.code
        return error

    def toResponse(self, stanza: Element) -> Element:
        """Return the error response to ``stanza``: addresses swapped, type ``error``.

        The original's children are not copied back, so a large request is not
        echoed to its sender.
        """
        from torsion.words.protocols.jabber.xmlstream import toResponse

        response = toResponse(stanza, "error")
        response.addChild(self.getElement())
        return response


def _parseError(
    error: Element, namespace: str
) -> tuple[str | None, str | None, str | None, Element | None]:
    condition = text = textLang = None
    appCondition = None
    for child in error.elements():
        if child.uri == namespace:
            if child.name == "text":
                text = str(child)
                textLang = child.getAttribute((NS_XML, "lang"))
            else:
                condition = child.name
        else:
            appCondition = child
    return condition, text, textLang, appCondition


def exceptionFromStreamError(element: Element) -> StreamError:
    """Return the StreamError a received ``<stream:error/>`` element describes."""
    condition, text, textLang, appCondition = _parseError(element, NS_XMPP_STREAMS)
    return StreamError(condition or "undefined-condition", text, textLang, appCondition)


def exceptionFromStanza(stanza: Element) -> StanzaError:
    """Return the StanzaError an error stanza (``type="error"``) carries."""
    error = next(stanza.elements(name="error"), None)
    if error is None:
        return StanzaError("undefined-condition", text="the error stanza has no <error/>")
    condition, text, textLang, appCondition = _parseError(error, NS_XMPP_STANZAS)
    exception = StanzaError(
        condition or "undefined-condition",
        error.getAttribute("type"),
        text,
        textLang,
        appCondition,
    )
    exception.stanza = stanza
    return exception
