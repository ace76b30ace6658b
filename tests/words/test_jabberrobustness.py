"""Hostile input to XMPP streams: random bytes in memory, and garbage over sockets.

Whatever a peer sends, dataReceived returns normally (the stream answers with a
stream error and closes, or waits for more) and other connections are unaffected.
"""

from __future__ import annotations

import socket
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.internet.reactormixins import runUntil
from tests.words import xmpphelpers
from tests.words.xmpphelpers import run, waitFor
from torsion.internet.testing import StringTransport
from torsion.words.protocols.jabber import client, component, xmlstream

oneReactor = xmpphelpers.oneReactor

HEADER = (
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" id='x' version='1.0'>"
)


class Authenticator(xmlstream.ConnectAuthenticator):
    namespace = "jabber:client"


pieces = st.sampled_from(
    [
        HEADER,
        b"<stream:features/>",
        b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
        b"<iq type='result' id='1'/>",
        b"<iq type='get' id='2'><q xmlns='urn:x'/></iq>",
        b"<iq type='error' id='3'><error/></iq>",
        b"<message><body>hi</body></message>",
        b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
        b"</stream:stream>",
        b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
        b"<!DOCTYPE x>",
        b"<",
        b">",
        b"&amp;",
        b"\xff\xfe",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(pieces, st.binary(max_size=20)), max_size=12))
def test_anyBytesAreHandled(chunks: list[bytes]) -> None:
    xs = xmlstream.XmlStream(Authenticator("example.com"))
    xs.initializers = [client.CheckVersionInitializer(xs)]
    transport = StringTransport()
    xs.makeConnection(transport)
    for chunk in chunks:
        xs.dataReceived(chunk)
    xs.connectionLost(None)


def test_garbageFromOneClientDoesNotDisturbAnother(oneReactor: Any) -> None:
    """A server on the library: one raw socket sends garbage, a component still logs in."""
    factory = xmlstream.XmlStreamServerFactory(
        lambda: component.ListenComponentAuthenticator("secret")
    )
    port = oneReactor.listenTCP(0, factory, interface="127.0.0.1")
    number = port.getHost().port

    raw = socket.create_connection(("127.0.0.1", number), timeout=5)
    raw.sendall(
        b"<stream:stream xmlns='jabber:component:accept' "
        b"xmlns:stream='http://etherx.jabber.org/streams' to='a.example'><<garbage>>"
    )
    raw.setblocking(False)
    answer = bytearray()

    def closedWithError() -> bool:
        try:
            data = raw.recv(4096)
        except BlockingIOError:
            return False
        answer.extend(data)
        return data == b""

    runUntil(oneReactor, closedWithError)
    raw.close()
    assert b"<stream:error><not-well-formed" in answer

    async def scenario() -> None:
        good = component.componentFactory("b.example", "secret")
        good.clock = oneReactor
        authd: list[Any] = []
        good.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authd.append)
        oneReactor.connectTCP("127.0.0.1", number, good)
        await waitFor(oneReactor, lambda: authd)
        good.stopTrying()
        authd[0].transport.loseConnection()

    run(oneReactor, scenario())
    port.stopListening()


def test_clientSurvivesAServerThatSendsGarbageAfterLogin(oneReactor: Any) -> None:
    from tests.words.test_xmppserver import Server

    server = Server(oneReactor, tls=False, mechanisms=("PLAIN",))

    async def scenario() -> None:
        xs = await server.login("alice@localhost", "wonderland", tls=False)
        ended: list[Any] = []
        xs.addObserver(xmlstream.STREAM_END_EVENT, ended.append)
        session = next(iter(server.state.sessions.values()))
        session.transport.write(b"<message><body>x</message>")
        await waitFor(oneReactor, lambda: ended)
        assert not xs.connected
        # The reactor goes on: another login works.
        again = await server.login("bob@localhost", "builder", tls=False)
        assert again.authenticator.jid.user == "bob"
        client.sendPresence(again, type="unavailable")

    run(oneReactor, scenario())
