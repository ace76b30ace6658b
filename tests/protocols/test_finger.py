"""Tests for torsion.protocols.finger: the query parser (with hypothesis), the server on
in-memory transports and real sockets, the client, and Debian's finger program."""

from __future__ import annotations

import errno
import shutil
import socket
import subprocess
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.protocols._rawsockets import RawClient
from torsion.internet import task
from torsion.internet.defer import Deferred, succeed
from torsion.internet.testing import EventLoggingObserver, StringTransport
from torsion.logger import globalLogPublisher
from torsion.protocols import finger
from torsion.protocols.finger import (
    Finger,
    FingerFactory,
    FingerQuery,
    FingerQueryError,
    formatQuery,
    parseQuery,
)

reactor = reactormixins.reactor

USERS = {"alice": "Login: alice\nName: Alice Liddell", "bob": "Login: bob"}


def database(user: str, verbose: bool) -> str | None:
    entry = USERS.get(user)
    if entry is not None and verbose:
        entry += "\nPlan: down the rabbit hole"
    return entry


# -- the parser ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "query"),
    [
        (b"", FingerQuery(False, "")),
        (b"alice", FingerQuery(False, "alice")),
        (b"/W", FingerQuery(True, "")),
        (b"/W alice", FingerQuery(True, "alice")),
        (b"/w   alice ", FingerQuery(True, "alice")),
        (b"alice@example.org", FingerQuery(False, "alice", ("example.org",))),
        (b"@example.org", FingerQuery(False, "", ("example.org",))),
        (b"/W alice@h1@h2", FingerQuery(True, "alice", ("h1", "h2"))),
    ],
)
def test_parseQueryReadsEveryFormOfRFC1288(line: bytes, query: FingerQuery) -> None:
    assert parseQuery(line) == query


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"alice bob", "printable characters without spaces"),
        (b"al\x00ice", "printable characters"),
        (b"\xff\xfe", "printable characters"),
        (b"alice@", "empty host name"),
        (b"alice@@h", "empty host name"),
    ],
)
def test_parseQueryRefusesWhatIsNotAQuery(line: bytes, message: str) -> None:
    with pytest.raises(FingerQueryError, match=message):
        parseQuery(line)


names = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1).filter(
    lambda name: "@" not in name
)


@given(st.one_of(st.just(""), names), st.booleans(), st.lists(names, max_size=3))
def test_formatThenParseGivesTheQueryBack(user: str, verbose: bool, hosts: list[str]) -> None:
    line = formatQuery(user, verbose, hosts)
    assert line.endswith(b"\r\n")
    assert parseQuery(line[:-2]) == FingerQuery(verbose, user, tuple(hosts))


@given(st.binary(max_size=200))
def test_parseQueryOfAnyBytesGivesAQueryOrItsError(line: bytes) -> None:
    try:
        query = parseQuery(line)
    except FingerQueryError:
        return
    assert all(" " not in part for part in (query.user, *query.hosts))


@pytest.mark.parametrize("name", ["two words", "a@b", "caf\u00e9", "tab\t"])
def test_formatQueryRefusesNamesThatCannotBeSent(name: str) -> None:
    with pytest.raises(ValueError, match="cannot be sent in a finger query"):
        formatQuery(name)


# -- the server on an in-memory transport -------------------------------------------------


def serve(line: bytes, factory: FingerFactory | None = None) -> tuple[Finger, StringTransport]:
    factory = factory or FingerFactory(database, lambda: ["alice", "bob"], reactor=task.Clock())
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(line)
    return proto, transport


def test_serverAnswersAboutAUserAndCloses() -> None:
    _, transport = serve(b"alice\r\n")
    assert transport.value() == b"Login: alice\r\nName: Alice Liddell\r\n"
    assert transport.disconnecting


def test_slashWAsksTheDatabaseForTheVerboseForm() -> None:
    _, transport = serve(b"/W alice\r\n")
    assert transport.value().endswith(b"Plan: down the rabbit hole\r\n")


def test_unknownUserIsNoSuchUser() -> None:
    _, transport = serve(b"nobody\r\n")
    assert transport.value() == b"Login: nobody\r\nNo such user.\r\n"


def test_emptyQueryListsTheUsers() -> None:
    _, transport = serve(b"\r\n")
    assert transport.value() == b"alice\r\nbob\r\n"


def test_emptyQueryIsRefusedWithoutAUserList() -> None:
    _, transport = serve(b"\r\n", FingerFactory(database, reactor=task.Clock()))
    assert transport.value() == b"Finger online list denied.\r\n"


def test_forwardingIsRefused() -> None:
    _, transport = serve(b"alice@elsewhere.example\r\n")
    assert transport.value() == b"Finger forwarding service denied.\r\n"
    assert transport.disconnecting


def test_defaultServerKnowsNobody() -> None:
    proto = Finger()
    proto.factory = FingerFactory(reactor=task.Clock())
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"root\r\n")
    assert transport.value() == b"Login: root\r\nNo such user.\r\n"


def test_databaseMayAnswerLaterWithADeferredOrACoroutine() -> None:
    pending: Deferred[str] = Deferred()
    _, transport = serve(b"alice\r\n", FingerFactory(lambda u, v: pending, reactor=task.Clock()))
    assert transport.value() == b""
    pending.callback("later")
    assert transport.value() == b"later\r\n"

    async def asynchronous(user: str, verbose: bool) -> str:
        return await succeed(f"async {user}")

    _, transport = serve(b"bob\r\n", FingerFactory(asynchronous, reactor=task.Clock()))
    assert transport.value() == b"async bob\r\n"


def test_subclassHooksAnswer() -> None:
    class Custom(Finger):
        def getUser(self, slash_w: bool, user: bytes) -> str:
            return f"{user.decode()} verbose={slash_w}"

        def forwardQuery(self, slash_w: bool, user: bytes, hosts: tuple[str, ...]) -> str:
            return f"would forward to {','.join(hosts)}"

    factory = FingerFactory(reactor=task.Clock())
    factory.protocol = Custom
    assert serve(b"/W x\r\n", factory)[1].value() == b"x verbose=True\r\n"
    assert serve(b"x@a@b\r\n", factory)[1].value() == b"would forward to a,b\r\n"


def test_failingDatabaseGivesAnInternalErrorAndIsLogged() -> None:
    def broken(user: str, verbose: bool) -> str:
        raise RuntimeError("database down")

    observer = EventLoggingObserver()
    globalLogPublisher.addObserver(observer)
    try:
        _, transport = serve(b"alice\r\n", FingerFactory(broken, reactor=task.Clock()))
    finally:
        globalLogPublisher.removeObserver(observer)
    assert transport.value() == b"finger: internal error\r\n"
    assert transport.disconnecting
    [event] = [e for e in observer if "log_failure" in e]
    assert event["log_failure"].check(RuntimeError)


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        (b"x" * 2000, b"finger: query too long\r\n"),
        (b"al ice\r\n", b"finger: a finger query is"),
        (b"\x00\x01\x02\xff\r\n", b"finger: a finger query is"),
    ],
)
def test_malformedQueriesGetAnErrorLineAndAClose(data: bytes, answer: bytes) -> None:
    _, transport = serve(data)
    assert transport.value().startswith(answer)
    assert transport.disconnecting


def test_aSecondQueryIsIgnored() -> None:
    pending: Deferred[str] = Deferred()
    _, transport = serve(b"a\r\nb\r\n", FingerFactory(lambda u, v: pending, reactor=task.Clock()))
    pending.callback("only once")
    assert transport.value() == b"only once\r\n"


def test_silentClientIsDisconnectedAfterTimeOut() -> None:
    clock = task.Clock()
    _, transport = serve(b"", FingerFactory(database, reactor=clock))
    clock.advance(Finger.timeOut - 1)
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.value() == b"finger: no query received in time\r\n"
    assert transport.disconnecting


# -- over real sockets --------------------------------------------------------------------


def listen(reactor: Any) -> int:
    factory = FingerFactory(database, lambda: ["alice", "bob"], reactor=reactor)
    return int(reactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port)


def test_clientAsksTheServer(reactor: Any) -> None:
    number = listen(reactor)
    answer = runUntilFired(reactor, finger.finger(reactor, "alice", port=number))
    assert answer == "Login: alice\nName: Alice Liddell\n"
    verbose = runUntilFired(reactor, finger.finger(reactor, "alice", port=number, verbose=True))
    assert verbose.endswith("Plan: down the rabbit hole\n")
    listing = runUntilFired(reactor, finger.finger(reactor, port=number))
    assert listing == "alice\nbob\n"
    forwarded = runUntilFired(reactor, finger.finger(reactor, "bob@far.example", port=number))
    assert forwarded == "Finger forwarding service denied.\n"


def test_garbageFromOneClientLeavesTheServerServingOthers(reactor: Any) -> None:
    number = listen(reactor)
    bad = RawClient(reactor, number)
    bad.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) * 8)
    assert bad.readUntilClosed().startswith(b"finger: ")
    bad.close()
    good = RawClient(reactor, number)
    good.send(b"bob\r\n")
    assert good.readUntilClosed() == b"Login: bob\r\n"
    good.close()


def test_clientRefusesAnOverlongAnswer(reactor: Any) -> None:
    number = int(
        reactor.listenTCP(
            0, FingerFactory(lambda u, v: "y" * 5000, reactor=reactor), interface="127.0.0.1"
        )
        .getHost()
        .port
    )
    original = finger.FingerClient.MAX_LENGTH
    finger.FingerClient.MAX_LENGTH = 1000
    try:
        with pytest.raises(ValueError, match="longer than 1000 bytes"):
            runUntilFired(reactor, finger.finger(reactor, "x", port=number))
    finally:
        finger.FingerClient.MAX_LENGTH = original


def test_clientFailsWhenNobodyListens(reactor: Any) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    number = probe.getsockname()[1]
    probe.close()
    from torsion.internet.error import ConnectionRefusedError

    with pytest.raises(ConnectionRefusedError):
        runUntilFired(reactor, finger.finger(reactor, "x", port=number))


# -- Debian's finger program --------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("finger") is None, reason="finger (Debian's package) is not installed"
)
def test_realFingerProgramTalksToTheServer() -> None:
    """finger(1) only speaks to port 79, so this binds it (root only) on 127.0.0.1."""
    from torsion.internet.epollreactor import EPollReactor

    made = EPollReactor()
    try:
        factory = FingerFactory(database, lambda: ["alice", "bob"], reactor=made)
        try:
            made.listenTCP(79, factory, interface="127.0.0.1")
        except Exception as e:
            if getattr(
                getattr(e, "socketError", None), "errno", None
            ) == errno.EACCES or "denied" in str(e):
                pytest.skip("binding port 79 (the only one finger(1) uses) needs root")
            pytest.skip(f"port 79 of 127.0.0.1 is not free: {e}")

        def run(*argv: str) -> str:
            proc = subprocess.Popen(
                ["finger", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            runUntil(made, lambda: proc.poll() is not None, timeout=10)
            out, err = proc.communicate(timeout=5)
            assert proc.returncode == 0, err
            return out

        assert "Name: Alice Liddell" in run("alice@127.0.0.1")
        assert "Plan: down the rabbit hole" in run("-l", "alice@127.0.0.1")
        listing = run("@127.0.0.1")
        assert "alice" in listing and "bob" in listing
        assert "forwarding service denied" in run("alice@elsewhere@127.0.0.1")
    finally:
        reactormixins.closeReactor(made)
