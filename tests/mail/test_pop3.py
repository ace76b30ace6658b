"""Tests for torsion.mail.pop3's server, in memory (StringTransport and task.Clock)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zope.interface import implementer

from tests.internet.reactormixins import loggedErrors
from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.portal import IRealm, Portal
from torsion.internet import defer
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.logger import formatEvent
from torsion.mail import pop3
from torsion.mail._pop3 import DotStuffer, DotUnstuffer, LineBuffer
from torsion.mail.maildir import MaildirMailbox, deliverToMaildir, initializeMaildir

__all__ = ["loggedErrors"]


@implementer(IRealm)
class Realm:
    def __init__(self, root: str) -> None:
        self.root = root
        self.logouts = 0

    def requestAvatar(self, avatarId: bytes, mind: Any, *interfaces: Any) -> Any:
        assert pop3.IMailbox in interfaces
        path = os.path.join(self.root, avatarId.decode())

        def logout() -> None:
            self.logouts += 1

        return pop3.IMailbox, MaildirMailbox(path), logout


class Session:
    """A POP3 server on a StringTransport: send lines, read what came back."""

    def __init__(self, portal: Any, ctx: Any = None, **attributes: Any) -> None:
        self.clock = Clock()
        self.proto = pop3.POP3(ctx)
        self.proto.portal = portal
        self.proto.callLater = self.clock.callLater  # type: ignore[method-assign]
        for name, value in attributes.items():
            setattr(self.proto, name, value)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)
        self.greeting = self.take()

    def take(self) -> bytes:
        # Drive a streaming message send to its end, as a draining socket would.
        while self.transport.producer is not None:
            self.transport.producer.resumeProducing()
        value = self.transport.value()
        self.transport.clear()
        return value

    def send(self, data: bytes) -> bytes:
        self.proto.dataReceived(data)
        return self.take()

    def cmd(self, line: str) -> bytes:
        return self.send(line.encode() + b"\r\n")

    def login(self, user: str = "alice", password: str = "secret") -> None:
        self.cmd(f"USER {user}")
        assert self.cmd(f"PASS {password}").startswith(b"+OK")


@pytest.fixture
def root(tmp_path: Path) -> str:
    for user in ("alice", "bob"):
        initializeMaildir(str(tmp_path / user))
    return str(tmp_path)


@pytest.fixture
def portal(root: str) -> Portal:
    checker = InMemoryUsernamePasswordDatabaseDontUse(alice="secret", bob="hunter 2")
    return Portal(Realm(root), [checker])


def deliver(root: str, user: str, *messages: bytes) -> None:
    for message in messages:
        deliverToMaildir(os.path.join(root, user), message, fsync=False)


# -- the sans-IO helpers ----------------------------------------------------------------


def test_lineBufferSplitsAndBounds() -> None:
    lines = LineBuffer(10)
    assert lines.feed(b"a\r\nb") == [b"a"]
    assert lines.feed(b"c\nxxxxxxxxxxxx") == [b"bc", None]
    assert lines.feed(b"still the long line") == []
    assert lines.feed(b"yyy\r\nok\r\n") == [b"ok"]
    assert lines.feed(b"0123456789\r\n") == [b"0123456789"]
    assert lines.feed(b"01234567890\r\n") == [None]
    assert lines.feed(b"half") == []
    assert lines.clear() == b"half"


@pytest.mark.parametrize("cut", range(1, 12))
def test_dotStufferIsIndependentOfChunking(cut: int) -> None:
    message = b".dot\nline\r\n..two\n.\nend\r"
    stuffer = DotStuffer()
    out = b"".join(stuffer.feed(message[i : i + cut]) for i in range(0, len(message), cut))
    out += stuffer.finish()
    assert out == b"..dot\r\nline\r\n...two\r\n..\r\nend\r\r\n.\r\n"
    lines = out.split(b"\r\n")[:-1]
    back = [DotUnstuffer.line(line) for line in lines]
    assert back[-1] is None
    assert back[:-1] == [b".dot", b"line", b"..two", b".", b"end\r"]


def test_dotStufferEndsAnUnterminatedMessage() -> None:
    stuffer = DotStuffer()
    assert stuffer.feed(b"abc") + stuffer.finish() == b"abc\r\n.\r\n"
    assert stuffer.feed(b"") + stuffer.finish() == b".\r\n"


# -- the session ------------------------------------------------------------------------


def test_greetingHasAPOPTimestampWhenThePortalCanCheckIt(portal: Portal) -> None:
    session = Session(portal)
    assert session.greeting.startswith(b"+OK ")
    assert session.greeting.rstrip().endswith(session.proto.magic)
    assert session.proto.magic.startswith(b"<") and b"@" in session.proto.magic


def test_noAPOPWithHashedPasswords(root: str) -> None:
    from torsion.cred.checkers import HashedPasswordChecker

    session = Session(Portal(Realm(root), [HashedPasswordChecker()]))
    assert b"<" not in session.greeting
    assert session.cmd("APOP alice 0123").startswith(b"-ERR APOP is not offered")


def test_userPassAndStat(portal: Portal, root: str) -> None:
    deliver(root, "alice", b"one\n", b"two\n")
    session = Session(portal)
    assert session.cmd("USER alice") == b"+OK user accepted; now PASS\r\n"
    assert session.cmd("PASS secret") == b"+OK logged in; 2 messages\r\n"
    assert session.cmd("STAT") == b"+OK 2 10\r\n"


def test_passwordWithSpaces(portal: Portal) -> None:
    session = Session(portal)
    session.login("bob", "hunter 2")


def test_apop(portal: Portal, root: str) -> None:
    session = Session(portal)
    digest = hashlib.md5(session.proto.magic + b"secret").hexdigest()
    assert session.cmd(f"APOP alice {digest}").startswith(b"+OK logged in")


def test_wrongPasswordRefusedAndLoggedWithoutIt(portal: Portal, logged: list[Any]) -> None:
    session = Session(portal)
    session.cmd("USER alice")
    assert session.cmd("PASS wrongpassword") == b"-ERR [AUTH] authentication failed\r\n"
    assert session.cmd("STAT").startswith(b"-ERR")
    texts = [formatEvent(event) for event in logged]
    assert not any("wrongpassword" in text for text in texts)
    assert any("refused for 'alice' from" in text for text in texts), texts


def test_tooManyFailuresCloseTheConnection(portal: Portal) -> None:
    session = Session(portal)
    for _ in range(2):
        session.cmd("USER alice")
        assert session.cmd("PASS no").startswith(b"-ERR [AUTH]")
        assert not session.transport.disconnecting
    session.cmd("USER alice")
    assert session.cmd("PASS no").endswith(b"-ERR too many failed logins; closing\r\n")
    assert session.transport.disconnecting


def test_commandsBeforeLoginAreRefused(portal: Portal) -> None:
    session = Session(portal)
    assert session.cmd("RETR 1") == b"-ERR RETR is not allowed before logging in\r\n"
    assert session.cmd("PASS x") == b"-ERR USER first, then PASS\r\n"
    assert session.cmd("NOOP") == b"+OK\r\n"


def test_badCommandsGetErrAndTheSessionGoesOn(portal: Portal, root: str) -> None:
    deliver(root, "alice", b"x\n")
    session = Session(portal)
    session.login()
    assert session.cmd("FROB") == b"-ERR unknown command FROB\r\n"
    assert session.cmd("") == b"-ERR empty command\r\n"
    assert session.cmd("RETR") == b"-ERR wrong arguments for RETR\r\n"
    assert session.cmd("RETR x") == b"-ERR bad message number x\r\n"
    assert session.cmd("RETR 0") == b"-ERR no message 0\r\n"
    assert session.cmd("RETR 2") == b"-ERR no message 2\r\n"
    assert session.cmd("TOP 1 z") == b"-ERR bad line count z\r\n"
    assert session.cmd("USER bob") == b"-ERR USER is not allowed after logging in\r\n"
    assert session.send(b"\xff\xfe junk\r\n").startswith(b"-ERR unknown command")
    assert session.cmd("STAT") == b"+OK 1 3\r\n"


def test_overlongLineGetsErrOnceAndTheNextLineWorks(portal: Portal) -> None:
    session = Session(portal)
    out = session.send(b"USER " + b"a" * 5000)
    assert out == b"-ERR line too long (the limit is 512 octets)\r\n"
    assert session.send(b"a" * 5000 + b"\r\nNOOP\r\n") == b"+OK\r\n"
    assert not session.transport.disconnecting


def test_listUidlRetrTopDeleRset(portal: Portal, root: str) -> None:
    deliver(root, "alice", b"Subject: a\n\nbody a\n.dot\n", b"Subject: b\nX: y\n\n1\n2\n3\n")
    session = Session(portal)
    session.login()
    assert session.cmd("LIST") == b"+OK 2 messages (57 octets)\r\n1 28\r\n2 29\r\n.\r\n"
    assert session.cmd("LIST 2") == b"+OK 2 29\r\n"
    uidl = session.cmd("UIDL").split(b"\r\n")
    assert uidl[0] == b"+OK" and uidl[-2:] == [b".", b""]
    assert session.cmd("UIDL 1") == b"+OK " + uidl[1] + b"\r\n"
    assert session.cmd("RETR 1") == (b"+OK 28 octets\r\nSubject: a\r\n\r\nbody a\r\n..dot\r\n.\r\n")
    top = b"+OK top of message follows\r\nSubject: b\r\nX: y\r\n\r\n"
    assert session.cmd("TOP 2 1") == top + b"1\r\n.\r\n"
    assert session.cmd("TOP 2 0") == top + b".\r\n"
    assert session.cmd("DELE 1") == b"+OK message 1 deleted\r\n"
    assert session.cmd("DELE 1") == b"-ERR message 1 is deleted\r\n"
    assert session.cmd("RETR 1") == b"-ERR message 1 is deleted\r\n"
    assert session.cmd("STAT") == b"+OK 1 29\r\n"
    assert session.cmd("LIST") == b"+OK 1 messages (29 octets)\r\n2 29\r\n.\r\n"
    assert session.cmd("RSET") == b"+OK\r\n"
    assert session.cmd("STAT") == b"+OK 2 57\r\n"


def test_quitAppliesDeletionsAndLogsOut(portal: Portal, root: str) -> None:
    deliver(root, "alice", b"a\n", b"b\n")
    session = Session(portal)
    session.login()
    session.cmd("DELE 2")
    assert session.cmd("QUIT") == b"+OK bye\r\n"
    assert session.transport.disconnecting
    session.proto.connectionLost(None)
    assert portal.realm.logouts == 1
    assert len(MaildirMailbox(os.path.join(root, "alice")).list) == 1


def test_lostWithoutQuitKeepsEverything(portal: Portal, root: str) -> None:
    deliver(root, "alice", b"a\n")
    session = Session(portal)
    session.login()
    session.cmd("DELE 1")
    session.proto.connectionLost(None)
    assert portal.realm.logouts == 1
    assert len(MaildirMailbox(os.path.join(root, "alice")).list) == 1


def test_largeMessageIsStreamed(portal: Portal, root: str) -> None:
    body = b"".join(b"line %d ....................................\n" % i for i in range(5000))
    body += b".last\n"
    deliver(root, "alice", body)
    session = Session(portal)
    session.login()
    session.proto.dataReceived(b"RETR 1\r\nNOOP\r\n")
    # The message goes out as the transport asks for more; NOOP waits for it.
    assert session.transport.producer is not None
    first = session.transport.value()
    session.transport.clear()
    assert len(first) < len(body)
    out = session.take()
    lines = (first + out).split(b"\r\n")
    assert lines[0] == b"+OK %d octets" % (len(body) + body.count(b"\n"))
    assert lines[-4:] == [b"..last", b".", b"+OK", b""]
    assert b"\n".join(lines[1:-4]) + b"\n" == body[: -len(b".last\n")]


def test_capa(portal: Portal) -> None:
    session = Session(portal, ctx=object())
    capa = session.cmd("CAPA").split(b"\r\n")
    assert capa[0].startswith(b"+OK")
    for name in (b"TOP", b"USER", b"UIDL", b"PIPELINING", b"STLS", b"SASL PLAIN LOGIN"):
        assert name in capa
    assert capa[-2:] == [b".", b""]
    assert b"STLS" not in Session(portal).cmd("CAPA")


def test_stlsDropsWhatCameInClearAfterIt(portal: Portal) -> None:
    started: list[Any] = []
    session = Session(portal, ctx="ctx")
    session.transport.startTLS = lambda ctx: started.append(ctx)  # type: ignore[attr-defined]
    out = session.send(b"STLS\r\nUSER alice\r\nPASS secret\r\nPA")
    assert out == b"+OK begin TLS negotiation\r\n"
    assert started == ["ctx"]
    assert session.cmd("NOOP") == b"+OK\r\n"
    assert session.cmd("STLS") == b"-ERR TLS is already on\r\n"
    assert session.proto.mbox is None


def test_stlsWithoutTLS(portal: Portal) -> None:
    assert Session(portal).cmd("STLS") == b"-ERR STLS is not offered by this server\r\n"


def test_authPlainAndLogin(portal: Portal) -> None:
    session = Session(portal)
    token = base64.b64encode(b"\0alice\0secret").decode()
    assert session.cmd(f"AUTH PLAIN {token}").startswith(b"+OK logged in")
    session = Session(portal)
    assert session.cmd("AUTH PLAIN") == b"+ \r\n"
    assert session.cmd(token).startswith(b"+OK logged in")
    session = Session(portal)
    assert session.cmd("AUTH LOGIN") == b"+ " + base64.b64encode(b"Username:") + b"\r\n"
    assert session.cmd(base64.b64encode(b"bob").decode()).startswith(b"+ ")
    assert session.cmd(base64.b64encode(b"hunter 2").decode()).startswith(b"+OK logged in")


def test_authErrors(portal: Portal) -> None:
    session = Session(portal)
    assert session.cmd("AUTH GSSAPI") == b"-ERR unknown SASL mechanism GSSAPI\r\n"
    assert session.cmd("AUTH PLAIN !!!") == b"-ERR the SASL answer is not valid base64\r\n"
    assert session.cmd("AUTH PLAIN") == b"+ \r\n"
    assert session.cmd("*") == b"-ERR authentication cancelled\r\n"
    bad = base64.b64encode(b"mallory\0alice\0secret").decode()
    assert session.cmd(f"AUTH PLAIN {bad}").startswith(b"-ERR [AUTH]")
    assert session.cmd("AUTH").startswith(b"+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n")


def test_commandsPipelinedDuringLoginWait(root: str) -> None:
    pending: defer.Deferred[Any] = defer.Deferred()

    class Slow:
        credentialInterfaces = InMemoryUsernamePasswordDatabaseDontUse.credentialInterfaces

        def requestAvatarId(self, credentials: Any) -> Any:
            return pending

    deliver(root, "alice", b"x\n")
    session = Session(Portal(Realm(root), [Slow()]))
    out = session.send(b"USER alice\r\nPASS secret\r\nSTAT\r\n")
    assert out == b"+OK user accepted; now PASS\r\n"
    pending.callback(b"alice")
    assert session.take() == b"+OK logged in; 1 messages\r\n+OK 1 3\r\n"


def test_idleSessionTimesOut(portal: Portal) -> None:
    session = Session(portal)
    session.clock.advance(599)
    session.cmd("NOOP")
    session.clock.advance(599)
    assert not session.transport.disconnecting
    session.clock.advance(2)
    assert session.transport.disconnecting


def test_realmErrorGetsTemporaryFailure(root: str, loggedErrors: list[Any]) -> None:
    @implementer(IRealm)
    class Broken:
        def requestAvatar(self, *a: Any) -> Any:
            raise RuntimeError("the disk is gone")

    checker = InMemoryUsernamePasswordDatabaseDontUse(alice="secret")
    session = Session(Portal(Broken(), [checker]))
    session.cmd("USER alice")
    assert session.cmd("PASS secret").startswith(b"-ERR [SYS/TEMP]")
    assert session.cmd("NOOP") == b"+OK\r\n"
    assert loggedErrors


# -- properties ------------------------------------------------------------------------


# A busy machine is no reason to fail: no deadlines, no "too slow" health check.
_patient = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_patient
@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=20))
def test_lineBufferIsIndependentOfChunking(data: bytes, cuts: list[int]) -> None:
    whole = LineBuffer(20).feed(data)
    buffer = LineBuffer(20)
    pieces: list[bytes | None] = []
    start = 0
    for cut in cuts:
        pieces.extend(buffer.feed(data[start : start + cut]))
        start += cut
    pieces.extend(buffer.feed(data[start:]))
    # Only where an overlong line is noticed may differ (before or after its end).
    assert [p for p in pieces if p is not None] == [p for p in whole if p is not None]


@_patient
@given(st.lists(st.binary(max_size=30).filter(lambda b: b"\n" not in b and b"\r" not in b)))
def test_dotStuffingRoundTrips(lines: list[bytes]) -> None:
    message = b"".join(line + b"\n" for line in lines)
    stuffer = DotStuffer()
    wire = stuffer.feed(message) + stuffer.finish()
    back = [DotUnstuffer.line(line) for line in wire.split(b"\r\n")[:-1]]
    assert back[-1] is None and back[:-1] == lines


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.binary(max_size=80), max_size=12))
def test_garbageNeverBreaksTheSession(tmp_path_factory: Any, chunks: list[bytes]) -> None:
    root = tmp_path_factory.mktemp("pop")
    initializeMaildir(str(root / "alice"))
    deliver(str(root), "alice", b"x\n")
    checker = InMemoryUsernamePasswordDatabaseDontUse(alice="secret")
    session = Session(Portal(Realm(str(root)), [checker]))
    session.login()
    for chunk in chunks:
        session.send(chunk)
        if session.transport.disconnecting:
            return
    # Whatever came before, a fresh line is understood.
    session.send(b"\r\n")
    assert session.cmd("NOOP").endswith(b"+OK\r\n")


def test_requireTransportSecurityRefusesPasswordsInClear(portal: Portal) -> None:
    session = Session(portal, ctx="ctx", requireTransportSecurity=True)
    session.transport.startTLS = lambda ctx: None  # type: ignore[attr-defined]
    capa = session.cmd("CAPA").split(b"\r\n")
    assert b"USER" not in capa and b"SASL PLAIN LOGIN" not in capa and b"STLS" in capa
    refused = b"-ERR [AUTH] log in after STLS: this server takes no passwords in clear\r\n"
    assert session.cmd("USER alice") == refused
    assert session.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==") == refused
    assert session.cmd("APOP alice 00") == refused
    assert session.cmd("STLS").startswith(b"+OK")
    assert b"USER" in session.cmd("CAPA").split(b"\r\n")
    session.login()


def test_oneSessionAtATimePerMailbox(portal: Portal) -> None:
    from torsion.internet.protocol import ServerFactory

    factory = ServerFactory()
    factory.mailboxesInUse = set()  # type: ignore[attr-defined]
    first = Session(portal, factory=factory)
    first.login()
    second = Session(portal, factory=factory)
    second.cmd("USER alice")
    assert (
        second.cmd("PASS secret")
        == b"-ERR [IN-USE] the mailbox is open in another POP3 session\r\n"
    )
    assert portal.realm.logouts == 1  # the second session's avatar was given back
    first.cmd("QUIT")
    first.proto.connectionLost(None)
    assert factory.mailboxesInUse == set()  # type: ignore[attr-defined]
    second.cmd("USER alice")
    assert second.cmd("PASS secret").startswith(b"+OK logged in")
    Session(portal, factory=factory).login("bob", "hunter 2")
