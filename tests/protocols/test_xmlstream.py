"""Tests for torsion.protocols.xmlstream: the Element tree, the incremental parser (its
events, namespaces, refusals and limits, with hypothesis: any segmentation gives the
same events, any bytes give at most an error), and the XmlStream protocol over
in-memory and real sockets."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from tests.protocols._rawsockets import RawClient
from tests.protocols.test_basic_properties import chunkings
from torsion.internet import protocol
from torsion.internet.testing import StringTransport
from torsion.protocols.xmlstream import (
    Element,
    ElementReceived,
    StreamEnd,
    StreamError,
    StreamStart,
    XmlStream,
    XmlStreamParser,
    escapeToXml,
)

reactor = reactormixins.reactor

HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
)
STREAMS = "http://etherx.jabber.org/streams"


def describe(events: list[Any]) -> list[tuple[str, str]]:
    out = []
    for event in events:
        if isinstance(event, StreamStart):
            out.append(("start", event.root.toXml(closeElement=False)))
        elif isinstance(event, ElementReceived):
            out.append(("element", event.element.toXml()))
        elif isinstance(event, StreamEnd):
            out.append(("end", ""))
        else:
            out.append(("error", event.message))
    return out


# -- Element ------------------------------------------------------------------------------


def test_elementBuildsAndSerializesWithEscaping() -> None:
    message = Element(("jabber:client", "message"))
    message["to"] = 'juliet@example.com/"balcony"'
    body = message.addElement("body", content="Art thou <not> Romeo & ")
    body.addContent("a Montague?")
    html = message.addElement(("http://jabber.org/protocol/xhtml-im", "html"))
    html.addElement("p", content="x")
    assert str(body) == "Art thou <not> Romeo & a Montague?"
    assert body.uri == "jabber:client" and html.uri == html.defaultUri
    assert message.toXml() == (
        '<message xmlns="jabber:client" to="juliet@example.com/&quot;balcony&quot;">'
        "<body>Art thou &lt;not&gt; Romeo &amp; a Montague?</body>"
        '<html xmlns="http://jabber.org/protocol/xhtml-im"><p>x</p></html></message>'
    )
    assert [child.name for child in message.elements()] == ["body", "html"]
    assert message.firstChildElement() is body and body.parent is message
    assert list(message.elements("jabber:client", "body")) == [body]


def test_elementAttributesWithNamespacesAndTheXmlPrefix() -> None:
    element = Element((None, "x"))
    element[("http://www.w3.org/XML/1998/namespace", "lang")] = "en"
    element[("urn:a", "b")] = "c"
    assert element.toXml() == '<x xml:lang="en" xmlns:ns0="urn:a" ns0:b="c"/>'
    assert element.hasAttribute(("urn:a", "b")) and element.getAttribute("nope", "d") == "d"


def test_elementRefusesBytesContent() -> None:
    with pytest.raises(TypeError, match="decode it first"):
        Element((None, "x")).addContent(b"raw")  # type: ignore[arg-type]


def test_escapeToXml() -> None:
    assert escapeToXml('<a href="x">&\n', isattrib=True) == "&lt;a href=&quot;x&quot;&gt;&amp;&#10;"


# -- the parser ---------------------------------------------------------------------------


def test_parserGivesStartElementsAndEnd() -> None:
    parser = XmlStreamParser()
    events = parser.feed(
        HEADER + b"<message to='romeo'><body>hi &amp; bye</body></message>\n <iq type='get'/>"
    )
    start, message, iq = events
    assert isinstance(start, StreamStart)
    assert (start.root.uri, start.root.name) == (STREAMS, "stream")
    assert start.root.attributes == {"to": "example.com", "version": "1.0"}
    assert isinstance(message, ElementReceived) and isinstance(iq, ElementReceived)
    assert message.element.uri == "jabber:client" and message.element["to"] == "romeo"
    assert str(message.element.firstChildElement()) == "hi & bye"
    assert message.element.parent is None
    assert start.root.children == []  # stanzas are not kept on the root
    assert describe(parser.feed(b"</stream:stream>")) == [("end", "")]
    assert parser.done
    assert parser.feed(b"<more/>") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>", "has a DOCTYPE"),
        (b"<!DOCTYPE x SYSTEM 'file:///etc/passwd'><x/>", "has a DOCTYPE"),
        (b"<a><b></a>", "not well-formed XML: mismatched tag"),
        (b"<a>&undefined;</a>", "not well-formed XML: undefined entity"),
        (b"\x00\x01\x02", "not well-formed XML"),
        (b"<a><p:x/></a>", "unbound prefix"),
    ],
)
def test_parserRefusesWhatIsNotAllowed(data: bytes, message: str) -> None:
    parser = XmlStreamParser()
    events = parser.feed(data)
    assert isinstance(events[-1], StreamError) and message in events[-1].message
    assert parser.done and parser.feed(b"<x/>") == []


def test_billionLaughsNeverExpands() -> None:
    laughs = (
        b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
        + b"".join(
            b"<!ENTITY lol%d '%s'>" % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
            for i in range(1, 10)
        )
        + b"]><lolz>&lol9;</lolz>"
    )
    events = XmlStreamParser().feed(laughs)
    assert describe(events) == [
        ("error", "the stream has a DOCTYPE, which XML streams do not allow")
    ]


def test_depthLimit() -> None:
    parser = XmlStreamParser(maxDepth=4)
    assert describe(parser.feed(b"<r><a><b><c/></b></a>"))[1][0] == "element"
    events = XmlStreamParser(maxDepth=4).feed(b"<r><a><b><c><d/>")
    assert isinstance(events[-1], StreamError) and "deeper than 4" in events[-1].message


def test_elementSizeLimitWhateverTheChunks() -> None:
    parser = XmlStreamParser(maxElementSize=1000)
    assert len(parser.feed(b"<r><ok>" + b"x" * 900 + b"</ok>")) == 2
    events: list[Any] = []
    for _ in range(20):
        events += parser.feed(b"<big>" + b"y" * 100)
    assert isinstance(events[-1], StreamError) and "larger than 1000 bytes" in events[-1].message
    oneChunk = XmlStreamParser(maxElementSize=1000).feed(b"<r><big>" + b"z" * 5000 + b"</big>")
    assert isinstance(oneChunk[-1], StreamError)


def test_pendingBytesLimitStopsANeverEndingTag() -> None:
    parser = XmlStreamParser(maxPendingBytes=4096)
    parser.feed(b"<r><x a='")
    events: list[Any] = []
    for _ in range(10):
        events += parser.feed(b"v" * 1000)
    assert isinstance(events[-1], StreamError) and "maxPendingBytes" in events[-1].message


def test_longTextAtTheTopLevelIsNotPending() -> None:
    parser = XmlStreamParser(maxPendingBytes=4096)
    parser.feed(b"<r>")
    for _ in range(20):
        assert parser.feed(b" " * 1000) == []  # whitespace keep-alives


def test_bytesAfterTheEndAreIgnored() -> None:
    assert describe(XmlStreamParser().feed(b"<r></r><junk>")) == [
        ("start", "<r>"),
        ("end", ""),
    ]


def test_parserRejectsText() -> None:
    with pytest.raises(TypeError, match="bytes, not str"):
        XmlStreamParser().feed("<r>")  # type: ignore[arg-type]


names = st.sampled_from(["a", "b", "body", "x:y", "iq"])
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=10)


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> Element:
    name = draw(names)
    if ":" in name:
        element = Element(("urn:test", name.split(":")[1]))
    else:
        element = Element(("jabber:client", name))
    for key in draw(st.lists(st.sampled_from(["id", "to", "type"]), unique=True, max_size=2)):
        element[key] = draw(texts)
    if depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            if draw(st.booleans()):
                element.addChild(draw(elements(depth + 1)))
            else:
                text = draw(texts)
                if text:
                    element.addContent(text)
    return element


@settings(max_examples=200, deadline=None)
@given(st.data(), st.lists(elements(), max_size=5), st.booleans())
def test_anySegmentationGivesTheSameEvents(
    data: st.DataObject, stanzas: list[Element], end: bool
) -> None:
    stream = HEADER + b"".join(s.toXml().encode("utf-8") + b"\n" for s in stanzas)
    if end:
        stream += b"</stream:stream>"
    whole = describe(XmlStreamParser().feed(stream))
    assert [kind for kind, _ in whole] == ["start"] + ["element"] * len(stanzas) + (
        ["end"] if end else []
    )
    # What comes out is what went in.
    assert [xml for kind, xml in whole if kind == "element"] == [s.toXml() for s in stanzas]
    parser = XmlStreamParser()
    pieces: list[Any] = []
    for chunk in data.draw(chunkings(stream)):
        pieces += parser.feed(chunk)
    assert describe(pieces) == whole


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=30), st.booleans())
def test_randomBytesGiveAtMostOneErrorAndNeverRaise(chunks: list[bytes], withHeader: bool) -> None:
    parser = XmlStreamParser(maxDepth=8, maxElementSize=2000, maxPendingBytes=500)
    events: list[Any] = []
    started = time.monotonic()
    for chunk in ([HEADER] if withHeader else []) + chunks:
        events += parser.feed(chunk)
    assert time.monotonic() - started < 5
    errors = [e for e in events if isinstance(e, StreamError)]
    assert len(errors) <= 1
    if errors:
        assert events[-1] is errors[0]


def test_byteByByteIsFast() -> None:
    stanza = b"<message to='a'><body>" + b"x" * 200 + b"</body></message>"
    stream = HEADER + stanza * 50
    parser = XmlStreamParser()
    started = time.monotonic()
    count = sum(len(parser.feed(stream[i : i + 1])) for i in range(len(stream)))
    assert count == 51
    assert time.monotonic() - started < 10


# -- the protocol -------------------------------------------------------------------------


class Recorder(XmlStream):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def onDocumentStart(self, rootElement: Element) -> None:
        self.events.append(("start", rootElement))
        header = Element((STREAMS, "stream"))
        self.send("<?xml version='1.0'?>")
        self.send(header.toXml(closeElement=False))

    def onElement(self, element: Element) -> None:
        self.events.append(("element", element))
        if element.name == "starttls":
            self.send(Element(("urn:ietf:params:xml:ns:xmpp-tls", "proceed")))
            self.resetParser()
        else:
            reply = Element(("jabber:client", "reply"))
            reply["for"] = element.name
            self.send(reply)

    def onDocumentEnd(self) -> None:
        self.events.append(("end", None))
        super().onDocumentEnd()


def test_protocolDispatchesAndSends() -> None:
    proto = Recorder()
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(HEADER + b"<pi")
    proto.dataReceived(b"ng/></stream:stream>")
    assert [kind for kind, _ in proto.events] == ["start", "element", "end"]
    assert transport.value().endswith(b'<reply xmlns="jabber:client" for="ping"/>')
    assert transport.disconnecting


def test_resetParserStartsAFreshStream() -> None:
    proto = Recorder()
    transport = StringTransport()
    proto.makeConnection(transport)
    # What follows the STARTTLS element in the same packet belongs to no stream.
    proto.dataReceived(HEADER + b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><stale/>")
    assert [kind for kind, _ in proto.events] == ["start", "element"]
    proto.dataReceived(HEADER + b"<again/>")
    assert [kind for kind, _ in proto.events] == ["start", "element", "start", "element"]
    assert proto.events[-1][1].name == "again"


def test_brokenStreamIsLoggedAndDropped() -> None:
    from torsion.internet.testing import EventLoggingObserver
    from torsion.logger import globalLogPublisher

    observer = EventLoggingObserver()
    globalLogPublisher.addObserver(observer)
    proto = Recorder()
    transport = StringTransport()
    try:
        proto.makeConnection(transport)
        proto.dataReceived(HEADER + b"<a></b>")
    finally:
        globalLogPublisher.removeObserver(observer)
    assert transport.disconnecting
    [warning] = [e for e in observer if "message" in e and "mismatched" in e["message"]]
    assert warning["protocol"] == "Recorder"


def test_garbageFromOnePeerLeavesTheServerServingOthers(reactor: Any) -> None:
    factory = protocol.Factory.forProtocol(Recorder)
    number = reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port
    bad = RawClient(reactor, number)
    bad.send(b"<!DOCTYPE lolz [<!ENTITY lol 'lol'>]><lolz>&lol;</lolz>")
    bad.readUntilClosed()
    bad.close()
    deep = RawClient(reactor, number)
    deep.send(HEADER + b"<a>" * 100)
    deep.readUntilClosed()
    deep.close()
    good = RawClient(reactor, number)
    good.send(HEADER + b"<ping/>")
    runUntil(reactor, lambda: b'for="ping"' in good.readUntil(1))
    good.close()


def test_aLongTagByteByByteIsNotReparsedEachTime() -> None:
    # Expat before 2.6 parses an unfinished token again with every feed: without the
    # parser's stash this takes seconds (quadratic); with it, a fraction of one.
    parser = XmlStreamParser()
    parser.feed(HEADER + b"<x a='")
    started = time.monotonic()
    for _ in range(60000):
        assert parser.feed(b"v") == []
    [event] = parser.feed(b"'/>")
    assert isinstance(event, ElementReceived) and len(event.element["a"]) == 60000
    assert time.monotonic() - started < 0.5
