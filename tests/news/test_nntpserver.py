"""NNTPServer in memory (StringTransport, task.Clock): logins, limits, the rules of the
current article, and bad input answered without ending the session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from torsion.cred import checkers, portal
from torsion.internet import task
from torsion.internet.defer import Deferred
from torsion.internet.testing import StringTransport
from torsion.news.database import NewsSpool
from torsion.news.news import NewsRealm, NNTPFactory

POST = (
    b"POST\r\n",
    b"From: a@example.org\r\nNewsgroups: local.talk\r\nSubject: hi\r\n\r\nbody\r\n.\r\n",
)


class Session:
    """One server connection, driven line by line."""

    def __init__(self, factory: NNTPFactory) -> None:
        self.transport = StringTransport()
        self.protocol = factory.buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        self.greeting = self.take()

    def take(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return data

    def send(self, *data: bytes) -> bytes:
        for chunk in data:
            self.protocol.dataReceived(chunk)
        return self.take()

    def codes(self, *data: bytes) -> list[bytes]:
        reply = self.send(*data)
        return [line[:3] for line in reply.split(b"\r\n") if line[:3].isdigit()]


@pytest.fixture
def spool(tmp_path: Path) -> NewsSpool:
    made = NewsSpool(tmp_path / "spool")
    made.addGroup("local.talk", "Talk")
    made.addGroup("local.empty")
    return made


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


def makeFactory(spool: NewsSpool, clock: task.Clock, **kw: Any) -> NNTPFactory:
    return NNTPFactory(spool, reactor=clock, **kw)


def authFactory(spool: NewsSpool, clock: task.Clock, **kw: Any) -> NNTPFactory:
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse(ada="s3cret pass")
    return makeFactory(spool, clock, portal=portal.Portal(NewsRealm(), [checker]), **kw)


def test_greetingSaysWhetherPostingIsAllowed(spool: NewsSpool, clock: task.Clock) -> None:
    assert Session(makeFactory(spool, clock)).greeting.startswith(b"200 ")
    readOnly = Session(makeFactory(spool, clock, postingAllowed=False))
    assert readOnly.greeting.startswith(b"201 ")
    assert readOnly.codes(b"POST\r\n") == [b"440"]
    assert b"POST\r\n" not in readOnly.send(b"CAPABILITIES\r\n")


def test_anEmptyGroupHasLowAboveHigh(spool: NewsSpool, clock: task.Clock) -> None:
    session = Session(makeFactory(spool, clock))
    assert session.send(b"GROUP local.empty\r\n") == b"211 0 1 0 local.empty\r\n"
    assert session.send(b"STAT\r\n").startswith(b"420")
    assert session.send(b"LISTGROUP\r\n") == b"211 0 1 0 local.empty\r\n.\r\n"
    assert session.send(b"OVER 1-\r\n").startswith(b"423")


def test_pipelinedCommandsAreAnsweredInOrder(spool: NewsSpool, clock: task.Clock) -> None:
    session = Session(makeFactory(spool, clock))
    assert session.codes(*POST) == [b"340", b"240"]
    assert session.codes(*POST) == [b"340", b"240"]
    reply = session.send(b"GROUP local.talk\r\nLISTGROUP local.talk 2-\r\nNEXT\r\nLAST\r\nLAST\r\n")
    lines = reply.split(b"\r\n")
    assert lines[0] == b"211 2 1 2 local.talk"
    assert lines[1:4] == [b"211 2 1 2 local.talk", b"2", b"."]
    assert lines[4].startswith(b"223 2 <") and lines[5].startswith(b"223 1 <")
    assert lines[6].startswith(b"422")
    assert session.send(b"STAT 2\r\nNEXT\r\n").split(b"\r\n")[1].startswith(b"421")


def test_listVariantsAndWildmats(spool: NewsSpool, clock: task.Clock) -> None:
    spool.addGroup("comp.lang.python")
    spool.addGroup("comp.os.linux")
    session = Session(makeFactory(spool, clock))
    reply = session.send(b"LIST ACTIVE comp.*,!comp.os.*\r\n")
    assert reply == b"215 list of newsgroups follows\r\ncomp.lang.python 0 1 y\r\n.\r\n"
    reply = session.send(b"LIST NEWSGROUPS local.t?lk\r\n")
    assert reply.split(b"\r\n")[1] == b"local.talk\tTalk"
    reply = session.send(b"LIST ACTIVE.TIMES local.*\r\n")
    assert [line.split()[0] for line in reply.split(b"\r\n")[1:-2]] == [
        b"local.empty",
        b"local.talk",
    ]
    assert session.send(b"LIST OVERVIEW.FMT\r\n").split(b"\r\n")[1:-2] == [
        b"Subject:",
        b"From:",
        b"Date:",
        b"Message-ID:",
        b"References:",
        b":bytes",
        b":lines",
    ]
    assert session.send(b"LIST OVERVIEW.FMT x\r\n").startswith(b"501")


def test_overAndHdrByMessageIdAndRange(spool: NewsSpool, clock: task.Clock) -> None:
    session = Session(makeFactory(spool, clock))
    session.send(b"POST\r\n", b"From: a@b.c\r\nNewsgroups: local.talk\r\nSubject: one\r\n")
    session.send(b"Message-ID: <one@b.c>\r\nX-Extra: folded\r\n  value\r\n\r\nbody\r\n.\r\n")
    reply = session.send(b"OVER <one@b.c>\r\n").split(b"\r\n")
    assert reply[0].startswith(b"224") and reply[1].startswith(b"0\tone\ta@b.c\t")
    session.send(b"GROUP local.talk\r\n")
    assert session.send(b"HDR x-extra 1-\r\n").split(b"\r\n")[1] == b"1 folded value"
    assert session.send(b"XHDR Subject <one@b.c>\r\n").split(b"\r\n")[1] == b"0 one"
    assert session.send(b"XOVER <one@b.c>\r\n").startswith(b"501")
    assert session.send(b"HDR :lines 1\r\n").split(b"\r\n")[1] == b"1 1"


def test_anOversizeArticleIs441AndTheSessionGoesOn(spool: NewsSpool, clock: task.Clock) -> None:
    factory = makeFactory(spool, clock)
    factory.maxArticleBytes = 10_000
    session = Session(factory)
    assert session.send(b"POST\r\n").startswith(b"340")
    head = b"From: a@b.c\r\nNewsgroups: local.talk\r\nSubject: big\r\n\r\n"
    assert session.send(head) == b""
    for _ in range(100):
        assert session.send(b"y" * 500 + b"\r\n") == b""
    assert session.protocol._article is None  # nothing more is kept in memory
    assert session.send(b".\r\n").startswith(b"441 posting failed: the article is over 10000")
    assert session.send(b"GROUP local.talk\r\n") == b"211 0 1 0 local.talk\r\n"


def test_anArticleLineOverTheLimitIs441(spool: NewsSpool, clock: task.Clock) -> None:
    session = Session(makeFactory(spool, clock))
    session.send(b"POST\r\n", b"From: a@b.c\r\nNewsgroups: local.talk\r\nSubject: x\r\n\r\n")
    reply = session.send(b"z" * 5000 + b"\r\nok\r\n.\r\n")
    assert reply.startswith(b"441 posting failed: a line is longer")
    assert session.codes(*POST) == [b"340", b"240"]


def test_idleConnectionsAreClosed(spool: NewsSpool, clock: task.Clock) -> None:
    session = Session(makeFactory(spool, clock))
    clock.advance(599)
    session.send(b"DATE\r\n")
    clock.advance(599)
    assert not session.transport.disconnecting
    clock.advance(2)
    assert session.take().startswith(b"400")
    assert session.transport.disconnecting


def test_aLoginLetsAReaderPost(spool: NewsSpool, clock: task.Clock) -> None:
    session = Session(authFactory(spool, clock))
    assert b"AUTHINFO USER" in session.send(b"CAPABILITIES\r\n")
    assert session.codes(b"POST\r\n") == [b"480"]
    assert session.codes(b"AUTHINFO PASS x\r\n") == [b"482"]
    assert session.codes(b"AUTHINFO USER ada\r\n", b"AUTHINFO PASS s3cret pass\r\n") == [
        b"381",
        b"281",
    ]
    assert session.protocol.user == "ada"
    assert b"AUTHINFO" not in session.send(b"CAPABILITIES\r\n")
    assert session.codes(b"AUTHINFO USER ada\r\n") == [b"502"]
    assert session.codes(*POST) == [b"340", b"240"]


def test_wrongPasswordsAre481AndThreeCloseTheConnection(
    spool: NewsSpool, clock: task.Clock
) -> None:
    session = Session(authFactory(spool, clock))
    for attempt in range(3):
        reply = session.codes(b"AUTHINFO USER ada\r\n", b"AUTHINFO PASS wrong\r\n")
        assert reply == [b"381", b"481"]
        assert session.transport.disconnecting == (attempt == 2)
    assert session.protocol.user is None


def test_readingNeedsALoginWhenAllIsRequired(spool: NewsSpool, clock: task.Clock) -> None:
    session = Session(authFactory(spool, clock, authRequired="all"))
    assert session.codes(b"GROUP local.talk\r\n", b"LIST\r\n") == [b"480", b"480"]
    assert session.codes(b"DATE\r\n", b"MODE READER\r\n") == [b"111", b"200"]
    session.send(b"AUTHINFO USER ada\r\nAUTHINFO PASS s3cret pass\r\n")
    assert session.codes(b"GROUP local.talk\r\n") == [b"211"]


def test_commandsWaitWhileALoginIsChecked(spool: NewsSpool, clock: task.Clock) -> None:
    """A checker that answers later: what was sent after PASS waits, then runs in order."""
    pending: list[Deferred[Any]] = []

    class SlowChecker:
        credentialInterfaces = checkers.InMemoryUsernamePasswordDatabaseDontUse.credentialInterfaces

        def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
            d: Deferred[Any] = Deferred()
            pending.append(d)
            return d

    factory = makeFactory(spool, clock, portal=portal.Portal(NewsRealm(), [SlowChecker()]))
    session = Session(factory)
    reply = session.send(b"AUTHINFO USER ada\r\nAUTHINFO PASS pw\r\n", *POST, b"DATE\r\n")
    assert reply.startswith(b"381") and b"340" not in reply
    assert len(pending) == 1
    # Many more lines while waiting: the server stops reading until the login is done.
    session.send(b"DATE\r\n" * 100)
    assert session.transport.producerState == "paused"
    pending[0].callback(b"ada")
    assert session.codes() == [b"281", b"340", b"240"] + [b"111"] * 101
    assert session.transport.producerState == "producing"
    assert session.protocol.user == "ada"


def test_anInternalErrorIs403AndTheSessionGoesOn(
    spool: NewsSpool, clock: task.Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = Session(makeFactory(spool, clock))

    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(spool, "groups", broken)
    assert session.codes(b"LIST\r\n") == [b"403"]
    assert session.codes(b"GROUP local.talk\r\n") == [b"211"]


def test_aPasswordKeepsItsSpaces(spool: NewsSpool, clock: task.Clock) -> None:
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse(bob="two  spaces ")
    factory = makeFactory(spool, clock, portal=portal.Portal(NewsRealm(), [checker]))
    session = Session(factory)
    session.send(b"AUTHINFO USER bob\r\n")
    # Trailing blanks are not part of a line's argument (RFC 3977 3.1), inner ones are.
    assert session.codes(b"AUTHINFO PASS two  spaces \r\n") == [b"481"]
    checker.addUser("bob", "two  spaces")
    session.send(b"AUTHINFO USER bob\r\n")
    assert session.codes(b"AUTHINFO PASS two  spaces \r\n") == [b"281"]
