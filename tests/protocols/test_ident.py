"""Tests for torsion.protocols.ident: the sans-IO request and response parts (with
hypothesis), the server with its hooks, the /proc lookup against real Python sockets
(one of them owned by another user), and the client."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntilFired
from tests.protocols._rawsockets import RawClient
from torsion.internet import protocol, task
from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionLost
from torsion.internet.testing import StringTransport
from torsion.protocols import ident
from torsion.protocols.ident import (
    HiddenUser,
    IdentClient,
    IdentError,
    IdentServer,
    InvalidPort,
    NoUser,
    formatResponse,
    parseRequest,
    parseResponse,
)

reactor = reactormixins.reactor

HAS_PROC = os.path.exists("/proc/net/tcp")


# -- sans-IO ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "ports"),
    [(b"6191, 23", (6191, 23)), (b"6191,23", (6191, 23)), (b" 1 ,\t65535 ", (1, 65535))],
)
def test_parseRequestReadsTwoPorts(line: bytes, ports: tuple[int, int]) -> None:
    assert parseRequest(line) == ports


@pytest.mark.parametrize("line", [b"", b"6191", b"1,2,3", b"0, 23", b"70000, 1", b"a, b", b"-1, 2"])
def test_parseRequestRefusesWhatIsNotTwoPorts(line: bytes) -> None:
    with pytest.raises(InvalidPort):
        parseRequest(line)


@given(st.binary(max_size=100))
def test_parseRequestOfAnyBytesGivesPortsOrInvalidPort(line: bytes) -> None:
    try:
        server, client = parseRequest(line)
    except InvalidPort:
        return
    assert 1 <= server <= 65535 and 1 <= client <= 65535


@given(
    st.integers(1, 65535),
    st.integers(1, 65535),
    st.one_of(
        st.tuples(
            st.text(
                st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":,"),
                min_size=1,
            ),
            st.text(
                st.characters(min_codepoint=32, max_codepoint=126, exclude_characters=":"),
                min_size=1,
            ).filter(lambda user: user == user.lstrip(" ")),
        ),
        st.sampled_from([NoUser(), HiddenUser(), InvalidPort(), IdentError()]),
    ),
)
def test_formatThenParseResponseGivesItBack(server: int, client: int, result: Any) -> None:
    line = formatResponse(server, client, result)
    assert line.endswith(b"\r\n")
    gotServer, gotClient, got = parseResponse(line[:-2])
    assert (gotServer, gotClient) == (server, client)
    if isinstance(result, IdentError):
        assert type(got) is type(result)
    else:
        assert got == result


def test_parseResponseKeepsColonsInTheUserId() -> None:
    assert parseResponse(b"6193, 23 : USERID : UNIX , UTF-8 :  stjohns: x") == (
        6193,
        23,
        ("UNIX", "stjohns: x"),
    )


@pytest.mark.parametrize("line", [b"garbage", b"1, 2 : WHAT : x", b"x, 2 : ERROR : NO-USER"])
def test_parseResponseRefusesWhatIsNotAResponse(line: bytes) -> None:
    with pytest.raises(ValueError, match="not an ident response"):
        parseResponse(line)


def test_formatResponseRefusesAUserThatCannotBeSent() -> None:
    with pytest.raises(ValueError, match="cannot be sent"):
        formatResponse(1, 2, ("UNIX", "evil\r\n1, 2 : USERID : UNIX : root"))


# -- the server with its hooks ------------------------------------------------------------


class Fixed(IdentServer):
    """Answers from a table instead of the kernel's."""

    table: dict[tuple[int, int], Any] = {
        (6191, 23): ("UNIX", "alice"),
        (6192, 23): NoUser(),
        (6193, 23): HiddenUser(),
        (6194, 23): RuntimeError("boom"),
    }

    def lookup(self, serverAddress: tuple[str, int], clientAddress: tuple[str, int]) -> Any:
        assert serverAddress[0] == "127.0.0.1" and clientAddress[0] == "127.0.0.1"
        result = self.table[serverAddress[1], clientAddress[1]]
        if isinstance(result, Exception):
            raise result
        return result


def serve(proto: IdentServer, data: bytes) -> StringTransport:
    factory = protocol.ServerFactory()
    factory.reactor = task.Clock()  # type: ignore[attr-defined]
    proto.factory = factory
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(data)
    return transport


def test_serverAnswersEachQueryInOrder() -> None:
    transport = serve(Fixed(), b"6191, 23\r\n6192,23\r\n6193 , 23\r\n")
    assert transport.value() == (
        b"6191 , 23 : USERID : UNIX : alice\r\n"
        b"6192 , 23 : ERROR : NO-USER\r\n"
        b"6193 , 23 : ERROR : HIDDEN-USER\r\n"
    )
    assert not transport.disconnecting


def test_aFailingLookupIsUnknownErrorAndLogged() -> None:
    from torsion.internet.testing import EventLoggingObserver
    from torsion.logger import globalLogPublisher

    observer = EventLoggingObserver()
    globalLogPublisher.addObserver(observer)
    try:
        transport = serve(Fixed(), b"6194, 23\r\n")
    finally:
        globalLogPublisher.removeObserver(observer)
    assert transport.value() == b"6194 , 23 : ERROR : UNKNOWN-ERROR\r\n"
    assert [e["log_failure"].check(RuntimeError) for e in observer if "log_failure" in e]


def test_slowLookupsAreAnsweredInQueryOrder() -> None:
    waiting: list[Deferred[tuple[str, str]]] = []

    class Slow(IdentServer):
        def lookup(self, serverAddress: Any, clientAddress: Any) -> Deferred[tuple[str, str]]:
            waiting.append(Deferred())
            return waiting[-1]

    transport = serve(Slow(), b"1, 2\r\n3, 4\r\n")
    waiting[1].callback(("UNIX", "second"))
    assert transport.value() == b""
    waiting[0].callback(("UNIX", "first"))
    assert (
        transport.value() == b"1 , 2 : USERID : UNIX : first\r\n3 , 4 : USERID : UNIX : second\r\n"
    )


def test_tooManyPendingQueriesAreRefused() -> None:
    waiting: list[Deferred[tuple[str, str]]] = []

    class Slow(IdentServer):
        maxPendingQueries = 2

        def lookup(self, serverAddress: Any, clientAddress: Any) -> Deferred[tuple[str, str]]:
            waiting.append(Deferred())
            return waiting[-1]

    transport = serve(Slow(), b"1, 2\r\n1, 3\r\n1, 4\r\n")
    assert len(waiting) == 2 and transport.value() == b""
    for d in waiting:
        d.callback(("UNIX", "u"))
    assert transport.value().splitlines()[2] == b"1 , 4 : ERROR : UNKNOWN-ERROR"


@pytest.mark.parametrize("data", [b"hello\r\n", b"\x00\xff\xfe\r\n", b"9" * 2000])
def test_garbageGetsInvalidPortAndTheConnectionCloses(data: bytes) -> None:
    transport = serve(Fixed(), data)
    assert transport.value() == b"0 , 0 : ERROR : INVALID-PORT\r\n"
    assert transport.disconnecting


def test_idleConnectionIsClosed() -> None:
    proto = Fixed()
    transport = serve(proto, b"")
    clock = proto.factory.reactor
    clock.advance(IdentServer.timeOut - 1)
    proto.dataReceived(b"6191, 23\r\n")
    clock.advance(IdentServer.timeOut - 1)
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.disconnecting


# -- the kernel's table, with real sockets ------------------------------------------------


def connectedPair() -> tuple[socket.socket, socket.socket, socket.socket]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    return listener, client, accepted


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux's /proc/net/tcp")
def test_procLookupFindsTheOwnerOfALocalConnection() -> None:
    listener, client, accepted = connectedPair()
    try:
        me = pwd.getpwuid(os.getuid()).pw_name
        mixin = ident.ProcServerMixin()
        clientPort = client.getsockname()[1]
        serverPort = listener.getsockname()[1]
        assert mixin.lookup(("127.0.0.1", clientPort), ("127.0.0.1", serverPort))[1] == me
        assert mixin.lookup(("::ffff:127.0.0.1", serverPort), ("127.0.0.1", clientPort))[1] == me
        with pytest.raises(NoUser):
            mixin.lookup(("127.0.0.1", clientPort), ("127.0.0.1", 1))
    finally:
        for sock in (listener, client, accepted):
            sock.close()


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux's /proc/net/tcp")
def test_procLookupOverIPv6() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    listener = socket.socket(socket.AF_INET6)
    try:
        listener.bind(("::1", 0))
    except OSError:
        listener.close()
        pytest.skip("::1 is not available")
    listener.listen()
    client = socket.create_connection(listener.getsockname()[:2])
    accepted, _ = listener.accept()
    try:
        result = ident.ProcServerMixin().lookup(
            ("::1", client.getsockname()[1]), ("::1", listener.getsockname()[1])
        )
        assert result[1] == pwd.getpwuid(os.getuid()).pw_name
    finally:
        for sock in (listener, client, accepted):
            sock.close()


def test_procLookupWithoutAProcTableIsAnIdentError() -> None:
    mixin = ident.ProcServerMixin()
    mixin.procTables = ("/nonexistent/tcp",)
    with pytest.raises(IdentError, match="no /proc/net/tcp"):
        mixin.lookup(("127.0.0.1", 1), ("127.0.0.1", 2))


def test_getUsernameOfAnUnknownUidIsTheNumber() -> None:
    assert ident.ProcServerMixin().getUsername(2**31 - 7) == str(2**31 - 7)


# -- over real sockets --------------------------------------------------------------------


def listenIdent(reactor: Any, protocolClass: Any = IdentServer) -> int:
    factory = protocol.ServerFactory.forProtocol(protocolClass)
    factory.reactor = reactor  # type: ignore[attr-defined]
    return int(reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port)


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux's /proc/net/tcp")
def test_serverAndClientNameTheOwnerOfARealConnection(reactor: Any) -> None:
    number = listenIdent(reactor)
    listener, client, accepted = connectedPair()
    try:
        me = pwd.getpwuid(os.getuid()).pw_name
        answer = runUntilFired(
            reactor,
            ident.identify(
                reactor,
                "127.0.0.1",
                client.getsockname()[1],
                listener.getsockname()[1],
                port=number,
            ),
        )
        assert answer == (ident.ProcServerMixin.SYSTEM_NAME, me)
        with pytest.raises(NoUser):
            runUntilFired(reactor, ident.identify(reactor, "127.0.0.1", 1, 2, port=number))
    finally:
        for sock in (listener, client, accepted):
            sock.close()


@pytest.mark.skipif(
    not HAS_PROC or os.getuid() != 0, reason="needs /proc/net/tcp and root (to be another user)"
)
@pytest.mark.skipif(shutil.which("nc") is None, reason="nc (netcat-openbsd) is not installed")
def test_serverNamesAnotherUsersConnection(reactor: Any) -> None:
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this system has no user 'nobody'")
    number = listenIdent(reactor)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    # nc, because this interpreter may live where that user cannot read it.
    child = subprocess.Popen(
        ["nc", "127.0.0.1", str(listener.getsockname()[1])],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        cwd="/",
        user=nobody.pw_uid,
        group=nobody.pw_gid,
        extra_groups=[],
    )
    listener.settimeout(10)
    try:
        accepted, peer = listener.accept()
        answer = runUntilFired(
            reactor,
            ident.identify(reactor, "127.0.0.1", peer[1], listener.getsockname()[1], port=number),
        )
        assert answer[1] == "nobody"
        accepted.close()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
        listener.close()


def test_garbageLeavesTheServerServingOthers(reactor: Any) -> None:
    number = listenIdent(reactor, Fixed)
    bad = RawClient(reactor, number)
    bad.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert bad.readUntilClosed() == b"0 , 0 : ERROR : INVALID-PORT\r\n"
    bad.close()
    good = RawClient(reactor, number)
    good.send(b"6191, 23\r\n")
    assert good.readUntil(35) == b"6191 , 23 : USERID : UNIX : alice\r\n"
    good.close()


# -- the client ---------------------------------------------------------------------------


def test_clientMatchesResponsesToQueriesInOrder() -> None:
    client = IdentClient()
    transport = StringTransport()
    client.makeConnection(transport)
    first = client.lookup(6191, 23)
    second = client.lookup(6192, 23)
    assert transport.value() == b"6191, 23\r\n6192, 23\r\n"
    results: list[Any] = []
    first.addBoth(results.append)
    second.addBoth(results.append)
    client.dataReceived(b"6191 , 23 : USERID : UNIX : alice\r\n6192 , 23 : ERROR : NO-USER\r\n")
    assert results[0] == ("UNIX", "alice")
    assert results[1].check(NoUser)


def test_clientRejectsAnAnswerAboutOtherPorts() -> None:
    client = IdentClient()
    client.makeConnection(StringTransport())
    answer = client.lookup(1, 2)
    client.dataReceived(b"3 , 4 : USERID : UNIX : mallory\r\n")
    with pytest.raises(IdentError, match="when asked about 1, 2"):
        runUntilFired(task.Clock(), answer)  # type: ignore[arg-type]


def test_clientFailsPendingQueriesWhenTheConnectionIsLost() -> None:
    client = IdentClient()
    client.makeConnection(StringTransport())
    answer = client.lookup(1, 2)
    client.connectionLost()
    failures: list[Any] = []
    answer.addErrback(failures.append)
    assert failures[0].check(ConnectionLost)


def test_clientRefusesPortsOutOfRange() -> None:
    client = IdentClient()
    client.makeConnection(StringTransport())
    with pytest.raises(InvalidPort):
        client.lookup(0, 2)
