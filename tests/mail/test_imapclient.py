"""IMAP4Client against IMAP4Server (in memory, and over 127.0.0.1 with STARTTLS), and
against scripted servers that misbehave."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet import reactormixins, tlshelpers
from tests.internet.reactormixins import runUntilFired
from tests.mail.imaphelpers import MULTIPART, SIMPLE, makePortal
from torsion.internet import defer
from torsion.internet.default import reactorClass
from torsion.internet.protocol import ClientCreator
from torsion.internet.testing import StringTransport
from torsion.mail import imap4
from torsion.protocols.loopback import connectedServerAndClient
from torsion.python.failure import Failure


class Recorder(imap4.IMAP4Client):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []

    def serverGreeting(self, caps: Any) -> None:
        self.events.append(("greeting", caps))

    def newMessages(self, exists: int | None, recent: int | None) -> None:
        self.events.append(("new", (exists, recent)))

    def messagesExpunged(self, number: int) -> None:
        self.events.append(("expunged", number))

    def flagsChanged(self, newFlags: dict[int, list[str]]) -> None:
        self.events.append(("flags", newFlags))


class Pair:
    def __init__(self) -> None:
        self.portal, self.realm = makePortal()

        def server() -> imap4.IMAP4Server:
            made = imap4.IMAP4Server()
            made.portal = self.portal
            return made

        self.client, self.server, self.pump = connectedServerAndClient(server, Recorder)

    def run(self, d: defer.Deferred[Any]) -> Any:
        box: list[Any] = []
        d.addBoth(box.append)
        self.pump.flush()
        assert box, "the command did not finish"
        if isinstance(box[0], Failure):
            box[0].raiseException()
        return box[0]


@pytest.fixture
def pair() -> Pair:
    return Pair()


def loggedIn(pair: Pair) -> imap4.MemoryAccount:
    pair.run(pair.client.login("alice", "secret"))
    return pair.realm.accounts[b"alice"]  # type: ignore[no-any-return]


def test_greetingAndCapabilities(pair: Pair) -> None:
    kind, caps = pair.client.events[0]
    assert kind == "greeting" and "IMAP4rev1" in caps and caps["AUTH"] == ["PLAIN", "LOGIN"]
    assert pair.run(pair.client.getCapabilities(useCache=False))["APPENDLIMIT"] == ["8388608"]


def test_loginFailureIsANegativeResponse(pair: Pair) -> None:
    with pytest.raises(imap4.NegativeResponse, match="AUTHENTICATIONFAILED"):
        pair.run(pair.client.login("alice", "wrong"))
    assert pair.client.state == "unauth"


@pytest.mark.parametrize(
    "authenticator, user, secret",
    [
        (imap4.PLAINAuthenticator, "alice", "secret"),
        (imap4.LOGINAuthenticator, "bob", "hunter2"),
    ],
)
def test_authenticate(pair: Pair, authenticator: Any, user: str, secret: str) -> None:
    pair.client.registerAuthenticator(authenticator(user))
    pair.run(pair.client.authenticate(secret))
    assert pair.client.state == "auth" and pair.server.state == "auth"


def test_noSharedMechanism(pair: Pair) -> None:
    pair.client.registerAuthenticator(imap4.CramMD5ClientAuthenticator("alice"))
    with pytest.raises(imap4.NoSupportedAuthentication):
        pair.run(pair.client.authenticate("secret"))


def test_appendSelectFetch(pair: Pair) -> None:
    loggedIn(pair)
    c = pair.client
    pair.run(c.append("INBOX", SIMPLE, ["\\Seen"], "Tue, 01 Dec 2026 10:00:00 +0000"))
    pair.run(c.append("INBOX", MULTIPART))
    info = pair.run(c.select("INBOX"))
    assert info["EXISTS"] == 2 and info["UIDNEXT"] == 3 and info["READ-WRITE"] is True
    assert "\\Seen" in info["FLAGS"] and "\\*" in info["PERMANENTFLAGS"]
    assert pair.run(c.fetchUID("1:*")) == {1: {"UID": "1"}, 2: {"UID": "2"}}
    assert pair.run(c.fetchFlags("1")) == {1: {"FLAGS": ["\\Recent", "\\Seen"]}}
    assert pair.run(c.fetchInternalDate("1")) == {1: {"INTERNALDATE": "01-Dec-2026 10:00:00 +0000"}}
    assert pair.run(c.fetchSize("2")) == {2: {"RFC822.SIZE": str(len(MULTIPART))}}
    assert pair.run(c.fetchMessage("2"))[2]["RFC822"] == MULTIPART
    envelope = pair.run(c.fetchEnvelope("1"))[1]["ENVELOPE"]
    assert envelope[2] == [["Alice Example", None, "alice", "example.com"]]
    structure = pair.run(c.fetchBodyStructure("2"))[2]["BODYSTRUCTURE"]
    assert structure[0][:2] == ["TEXT", "PLAIN"] and structure[2] == "MIXED"
    part = pair.run(c.fetchSpecific("2", headerNumber=2, peek=True))
    assert part == {2: {"BODY[2]": b"AAECAwQ="}}
    fields = pair.run(
        c.fetchSpecific("1", headerType="HEADER.FIELDS", headerArgs=["TO"], peek=True)
    )
    assert fields[1]["BODY[HEADER.FIELDS (TO)]"].startswith(b"To: bob@example.org")
    partial = pair.run(c.fetchSpecific("1", peek=True, offset=6, length=5))
    assert partial == {1: {"BODY[]<6>": b"Alice"}}


def test_searchStoreCopyExpunge(pair: Pair) -> None:
    account = loggedIn(pair)
    inbox = account.select("INBOX")
    inbox.addMessage(SIMPLE)
    inbox.addMessage(MULTIPART)
    account.create("Archive")
    c = pair.client
    pair.run(c.select("INBOX"))
    assert pair.run(c.search("SUBJECT", '"Grüße"')) == [1]
    assert pair.run(c.search("ALL", uid=True)) == [1, 2]
    assert pair.run(c.search('BODY "café"')) == [2]
    flags = pair.run(c.addFlags("1", ["\\Deleted"], silent=False))
    assert flags == {1: {"FLAGS": ["\\Deleted", "\\Recent"]}}
    assert pair.run(c.setFlags("2", ["\\Flagged"])) == {}
    pair.run(c.removeFlags("2", ["\\Flagged"], uid=True))
    pair.run(c.copy("2", "Archive"))
    assert pair.run(c.expunge()) == [1]
    assert pair.run(c.status("Archive", "MESSAGES", "UIDNEXT")) == {"MESSAGES": 1, "UIDNEXT": 2}
    pair.run(c.close())
    assert c.state == "auth"


def test_mailboxCommands(pair: Pair) -> None:
    loggedIn(pair)
    c = pair.client
    pair.run(c.create("Entwürfe"))
    pair.run(c.rename("Entwürfe", "Drafts"))
    pair.run(c.subscribe("Drafts"))
    assert pair.run(c.list("", "*")) == [((), "/", "Drafts"), ((), "/", "INBOX")]
    assert pair.run(c.lsub("", "*")) == [((), "/", "Drafts")]
    pair.run(c.unsubscribe("Drafts"))
    pair.run(c.delete("Drafts"))
    assert pair.run(c.namespace()) == [[["", "/"]], [], []]
    with pytest.raises(imap4.NegativeResponse, match="no mailbox named nope"):
        pair.run(c.select("nope"))
    examined = pair.run(c.examine("INBOX"))
    assert examined["READ-WRITE"] is False


def test_idleDeliversUnsolicitedNews(pair: Pair) -> None:
    account = loggedIn(pair)
    c = pair.client
    pair.run(c.select("INBOX"))
    pair.run(c.idle())
    account.select("INBOX").addMessage(SIMPLE)
    pair.pump.flush()
    assert ("new", (1, None)) in pair.client.events
    assert pair.run(c.idleDone()) == b"IDLE terminated"
    assert pair.run(c.noop()) == []


def test_idleDoneWithoutIdle(pair: Pair) -> None:
    with pytest.raises(ValueError, match="without idle"):
        pair.run(pair.client.idleDone())


def test_pendingCommandsFailWhenTheConnectionIsLost(pair: Pair) -> None:
    loggedIn(pair)
    d = pair.client.noop()
    pair.client.transport.loseConnection()
    box: list[Any] = []
    d.addErrback(box.append)
    pair.pump.flush()
    assert box and box[0].check(Exception)


def scripted(lines: bytes) -> tuple[Recorder, StringTransport]:
    client = Recorder()
    transport = StringTransport()
    client.makeConnection(transport)
    client.dataReceived(lines)
    return client, transport


def test_hostileServerLongLineDropsTheConnection() -> None:
    client, transport = scripted(b"* OK hi\r\n")
    d = client.noop()
    client.dataReceived(b"* " + b"x" * (client.maxLineLength + 10))
    failures: list[Failure] = []
    d.addErrback(failures.append)
    assert failures and failures[0].check(imap4.IllegalServerResponse)
    assert transport.disconnecting


def test_hostileServerHugeLiteralDropsTheConnection() -> None:
    client, transport = scripted(b"* OK hi\r\n")
    d = client.fetchMessage("1")
    client.dataReceived(b"* 1 FETCH (RFC822 {999999999999}\r\n")
    failures: list[Failure] = []
    d.addErrback(failures.append)
    assert failures and "literal" in str(failures[0].value)
    assert transport.disconnecting


def test_responseForUnknownTagIsAnError() -> None:
    client, transport = scripted(b"* OK hi\r\n")
    d = client.noop()
    client.dataReceived(b"ZZZ OK what\r\n")
    failures: list[Failure] = []
    d.addErrback(failures.append)
    assert failures and transport.disconnecting


def test_unsolicitedExpungeAndFlags() -> None:
    client, _ = scripted(b"* OK hi\r\n* 3 EXPUNGE\r\n* 2 FETCH (FLAGS (\\Seen))\r\n")
    assert ("expunged", 3) in client.events and ("flags", {2: ["\\Seen"]}) in client.events


def test_literalPlusWhenTheServerHasIt() -> None:
    client, transport = scripted(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n")
    client.append("INBOX", b"hello")
    assert transport.value() == b'A0001 APPEND "INBOX" {5+}\r\nhello\r\n'


def test_synchronisingLiteralWaitsForContinuation() -> None:
    client, transport = scripted(b"* OK hi\r\n")
    client.append("INBOX", b"hello")
    assert transport.value() == b'A0001 APPEND "INBOX" {5}\r\n'
    client.dataReceived(b"+ go\r\n")
    assert transport.value().endswith(b"{5}\r\nhello\r\n")


@pytest.fixture
def oneReactor() -> Iterator[Any]:
    made = reactorClass()()
    reactormixins.trackDescriptors(made)
    try:
        yield made
    finally:
        reactormixins.closeReactor(made)


def test_overTCPWithStartTLS(oneReactor: Any) -> None:
    portal, _ = makePortal()
    factory = imap4.IMAP4ServerFactory(portal, tlshelpers.serverOptions(), reactor=oneReactor)
    port = oneReactor.listenTCP(0, factory, interface="127.0.0.1").getHost().port

    async def session() -> Any:
        client = await ClientCreator(oneReactor, imap4.IMAP4Client).connectTCP("127.0.0.1", port)
        caps = await client.getCapabilities()
        assert "STARTTLS" in caps
        after = await client.startTLS(tlshelpers.clientOptions("127.0.0.1"))
        await client.login("alice", "secret")
        await client.append("INBOX", MULTIPART)
        await client.select("INBOX")
        body = await client.fetchMessage("1")
        await client.logout()
        return after, body

    after, body = runUntilFired(oneReactor, defer.ensureDeferred(session()), timeout=10)
    assert "STARTTLS" not in after
    assert body[1]["RFC822"] == MULTIPART


def test_queryBuilders() -> None:
    import datetime

    assert imap4.Query(unseen=True) == "UNSEEN"
    assert imap4.Query(sorted=True, subject='say "hi"', since=datetime.date(2026, 12, 1)) == (
        '(SINCE 1-Dec-2026 SUBJECT "say \\"hi\\"")'
    )
    assert imap4.Query(header=("X-Spam", "yes"), larger=10, uid="1:5") == (
        '(HEADER "X-Spam" "yes" LARGER 10 UID 1:5)'
    )
    assert imap4.Query(**{"from": "alice"}) == 'FROM "alice"'
    assert imap4.Query() == "ALL"
    assert imap4.Or("SEEN", "DELETED", "DRAFT") == "(OR SEEN (OR DELETED DRAFT))"
    assert imap4.Not(imap4.Query(seen=True)) == "(NOT SEEN)"
    with pytest.raises(TypeError, match="unknown search key 'colour'"):
        imap4.Query(colour="red")
    with pytest.raises(ValueError, match="at least two"):
        imap4.Or("SEEN")


def test_searchWithQueries(pair: Pair) -> None:
    account = loggedIn(pair)
    inbox = account.select("INBOX")
    inbox.addMessage(SIMPLE, ["\\Seen"])
    inbox.addMessage(MULTIPART)
    pair.run(pair.client.select("INBOX"))
    query = imap4.Or(imap4.Query(subject="Grüße"), imap4.Query(unseen=True, body="café"))
    assert pair.run(pair.client.search(query)) == [1, 2]
    assert pair.run(pair.client.search(imap4.Not(imap4.Query(seen=True)))) == [2]
