"""NNTPClient against torsion's server over real TCP on 127.0.0.1, and against a
scripted server in memory for the replies a real one would not send."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from torsion.cred import checkers, portal
from torsion.internet.protocol import ClientCreator
from torsion.internet.testing import StringTransport
from torsion.news.database import NewsSpool
from torsion.news.news import NewsRealm, NNTPFactory
from torsion.news.nntp import NNTPClient, NNTPError
from torsion.python.failure import Failure

oneReactor = reactormixins.oneReactor

ARTICLE = b"From: ada@example.org\nNewsgroups: local.talk\nSubject: hello\n\nline one\n.dot\n"


class TwistedStyle(NNTPClient):
    """A client written the Twisted way: override the got.../...Failed callbacks."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []

    def gotGroup(self, group: Any) -> None:
        self.events.append(("group", group))

    def getGroupFailed(self, error: str) -> None:
        self.events.append(("groupFailed", error))

    def postedOk(self, text: str) -> None:
        self.events.append(("posted", text))

    def gotArticle(self, article: bytes) -> None:
        self.events.append(("article", article))


def serve(reactor: Any, tmp_path: Path) -> tuple[int, NewsSpool]:
    spool = NewsSpool(tmp_path / "spool")
    spool.addGroup("local.talk", "Talk")
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse(ada="pw")
    factory = NNTPFactory(spool, portal.Portal(NewsRealm(), [checker]), reactor=reactor)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return port.getHost().port, spool


def connect(reactor: Any, port: int, kind: type[NNTPClient] = NNTPClient) -> Any:
    d = ClientCreator(reactor, kind).connectTCP("127.0.0.1", port)
    return reactormixins.runUntilFired(reactor, d)


def test_clientPostsAndReads(oneReactor: Any, tmp_path: Path) -> None:
    port, _ = serve(oneReactor, tmp_path)
    client = connect(oneReactor, port)
    run = lambda d: reactormixins.runUntilFired(oneReactor, d)  # noqa: E731
    assert run(client.whenReady()).startswith("torsion.news")
    assert client.postingAllowed
    assert "READER" in run(client.fetchCapabilities())
    with pytest.raises(NNTPError) as refused:
        run(client.postArticle(ARTICLE))
    assert refused.value.code == 480
    with pytest.raises(NNTPError) as wrong:
        run(client.login("ada", "nope"))
    assert wrong.value.code == 481
    assert run(client.login("ada", "pw")).startswith("authentication accepted")
    posted = run(client.postArticle(ARTICLE))
    assert posted.startswith("article received OK <")
    assert run(client.fetchGroups()) == [("local.talk", 1, 1, "y")]
    assert run(client.fetchGroup("local.talk")) == (1, 1, 1, "local.talk")
    article = run(client.fetchArticle(1))
    assert article.endswith(b"\r\n\r\nline one\r\n.dot\r\n")
    assert b"Subject: hello\r\n" in article
    assert run(client.fetchBody()) == b"line one\r\n.dot\r\n"
    assert b"From: ada@example.org" in run(client.fetchHead(1))
    [over] = run(client.fetchOver("1-"))
    assert (over["number"], over["subject"], over["lines"]) == ("1", "hello", "2")
    assert run(client.fetchXHeader("Subject", 1, 1)) == [("1", "hello")]
    assert run(client.fetchOverview())[0] == "Subject:"
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    assert run(client.fetchNewNews(["local.*"], since)) == [over["message-id"]]
    assert [g[0] for g in run(client.fetchNewGroups(since))] == ["local.talk"]
    assert any("GROUP" in line for line in run(client.fetchHelp()))
    with pytest.raises(NNTPError) as missing:
        run(client.fetchGroup("no.such"))
    assert missing.value.code == 411
    run(client.quit())
    reactormixins.runUntil(oneReactor, lambda: client.transport.disconnected)


def test_requestsMadeAtOnceAreAnsweredInOrder(oneReactor: Any, tmp_path: Path) -> None:
    port, spool = serve(oneReactor, tmp_path)
    spool.postArticle(ARTICLE)
    client = connect(oneReactor, port, TwistedStyle)
    group = client.fetchGroup("local.talk")
    article = client.fetchArticle(1)
    failed = client.fetchGroup("no.such")
    failures: list[Failure] = []
    failed.addErrback(failures.append)
    reactormixins.runUntilFired(oneReactor, article)
    reactormixins.runUntil(oneReactor, lambda: bool(failures))
    assert group.result == (1, 1, 1, "local.talk")  # type: ignore[attr-defined]
    kinds = [kind for kind, _ in client.events]
    assert kinds == ["group", "article", "groupFailed"]
    assert client.events[2][1].startswith("411")
    client.transport.loseConnection()


def scripted() -> tuple[NNTPClient, StringTransport]:
    client = NNTPClient()
    transport = StringTransport()
    client.makeConnection(transport)
    return client, transport


def test_garbageFromTheServerEndsTheConnectionAndFailsRequests() -> None:
    client, transport = scripted()
    d = client.fetchGroups()
    failures: list[Failure] = []
    d.addErrback(failures.append)
    client.dataReceived(b"200 hi\r\n")
    assert transport.value() == b"LIST\r\n"
    client.dataReceived(b"HTTP/1.1 400 Bad Request\r\n")
    assert transport.disconnecting
    assert failures and "not an NNTP reply" in str(failures[0].value)


def test_anOverlongReplyLineEndsTheConnection() -> None:
    client, transport = scripted()
    d = client.fetchHelp()
    failures: list[Failure] = []
    d.addErrback(failures.append)
    client.dataReceived(b"200 hi\r\n100 help\r\n")
    client.dataReceived(b"x" * (NNTPClient.MAX_LINE + 10))
    assert transport.disconnecting and failures


def test_aMultilineReplyOverTheLimitEndsTheConnection() -> None:
    client, transport = scripted()
    client.maxResponseBytes = 1000
    failures: list[Failure] = []
    client.fetchArticle(1).addErrback(failures.append)
    client.dataReceived(b"200 hi\r\n220 1 <a@b> follows\r\n" + b"line\r\n" * 300)
    assert transport.disconnecting
    assert "longer than 1000" in str(failures[0].value)


def test_aLostConnectionFailsWhatIsWaiting() -> None:
    client, _ = scripted()
    failures: list[Failure] = []
    client.whenReady().addErrback(failures.append)
    client.fetchGroup("x").addErrback(failures.append)
    client.connectionLost(Failure(ConnectionError("gone")))
    assert len(failures) == 2


def test_aRefusingGreetingFailsWhenReady() -> None:
    client, _ = scripted()
    failures: list[Failure] = []
    client.whenReady().addErrback(failures.append)
    client.dataReceived(b"502 go away\r\n")
    assert failures and failures[0].value.code == 502  # type: ignore[attr-defined]


def test_commandsAreOneLine() -> None:
    client, _ = scripted()
    with pytest.raises(ValueError, match="one line"):
        client.fetchGroup("x\r\nQUIT")


def test_aRequestMadeInACallbackIsSentOnce() -> None:
    client, transport = scripted()
    sent: list[Any] = []
    client.whenReady().addCallback(lambda _: sent.append(client.fetchGroup("a.b")))
    client.dataReceived(b"200 hi\r\n")
    assert transport.value() == b"GROUP a.b\r\n"
    client.fetchHelp()
    assert transport.value() == b"GROUP a.b\r\n"  # HELP waits for GROUP's answer
    transport.clear()
    client.dataReceived(b"211 0 1 0 a.b\r\n")
    assert transport.value() == b"HELP\r\n"
