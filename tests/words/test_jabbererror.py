"""Stream and stanza errors as exceptions and elements (jabber.error)."""

from __future__ import annotations

from torsion.protocols.xmlstream import Element, ElementReceived, XmlStreamParser
from torsion.words.protocols.jabber import error


def reparse(element: Element) -> Element:
    data = b"<s xmlns='jabber:client'>" + element.toXml().encode()
    events = XmlStreamParser().feed(data)
    received = events[1]
    assert isinstance(received, ElementReceived)
    return received.element


def test_stanzaErrorElement() -> None:
    e = error.StanzaError("item-not-found", text="no such node", textLang="en")
    element = e.getElement()
    assert element["type"] == "cancel"
    assert element["code"] == "404"
    names = [(c.uri, c.name) for c in element.elements()]
    assert names == [(error.NS_XMPP_STANZAS, "item-not-found"), (error.NS_XMPP_STANZAS, "text")]
    assert 'xml:lang="en"' in element.toXml()


def test_stanzaErrorRoundTrip() -> None:
    request = Element(("jabber:client", "iq"))
    request["type"], request["id"], request["from"], request["to"] = "get", "1", "a@b/c", "d"
    request.addElement(("urn:x", "query"))
    app = Element(("urn:app", "too-many"))
    response = error.StanzaError(
        "resource-constraint", "wait", "slow down", appCondition=app
    ).toResponse(request)
    assert response.attributes == {"to": "a@b/c", "from": "d", "id": "1", "type": "error"}
    assert [c.name for c in response.elements()] == ["error"]  # the query is not echoed
    back = error.exceptionFromStanza(reparse(response))
    assert back.condition == "resource-constraint"
    assert back.type == "wait"
    assert back.text == "slow down"
    assert back.appCondition is not None and back.appCondition.name == "too-many"
    assert "resource-constraint" in str(back) and "slow down" in str(back)


def test_errorStanzaWithoutErrorElement() -> None:
    stanza = Element(("jabber:client", "message"))
    stanza["type"] = "error"
    assert error.exceptionFromStanza(stanza).condition == "undefined-condition"


def test_streamErrorRoundTrip() -> None:
    element = error.StreamError("host-unknown", "who?").getElement()
    assert (element.uri, element.name) == (error.NS_STREAMS, "error")
    back = error.exceptionFromStreamError(reparse(element))
    assert (back.condition, back.text) == ("host-unknown", "who?")


def test_everyConditionHasATypeAndTheStreamConditionsAreKnown() -> None:
    assert all(
        v["type"] in {"cancel", "continue", "modify", "auth", "wait"}
        for v in error.CONDITIONS.values()
    )
    assert "not-well-formed" in error.STREAM_CONDITIONS
