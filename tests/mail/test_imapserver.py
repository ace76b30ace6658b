"""IMAP4Server on an in-memory transport with a task.Clock: states, every command's
answers and error paths, pipelining, Deferred-returning accounts, timeouts, IDLE."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zope.interface import implementer

from tests.internet.reactormixins import loggedErrors  # noqa: F401
from tests.mail.imaphelpers import MULTIPART, SIMPLE, AccountRealm, ServerHarness
from torsion.internet import defer
from torsion.internet.testing import StringTransport
from torsion.mail import imap4


@pytest.fixture
def h() -> ServerHarness:
    return ServerHarness()


def selected(h: ServerHarness, *messages: bytes) -> imap4.MemoryMailbox:
    account = h.login()
    inbox: imap4.MemoryMailbox = account.select("INBOX")
    for message in messages:
        inbox.addMessage(message)
    assert b"S OK [READ-WRITE]" in h.send(b"S SELECT INBOX\r\n")
    return inbox


def test_greetingAdvertisesCapabilities(h: ServerHarness) -> None:
    assert h.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE ")
    assert b"AUTH=PLAIN" in h.greeting and b"STARTTLS" not in h.greeting


def test_commandsNeedTheRightState(h: ServerHarness) -> None:
    assert h.send(b"a SELECT INBOX\r\n") == (b"a BAD SELECT is not allowed now (state: unauth)\r\n")
    assert h.send(b"b FETCH 1 FLAGS\r\n").startswith(b"b BAD FETCH is not allowed")
    h.login()
    assert h.send(b"c LOGIN alice secret\r\n").startswith(b"c BAD LOGIN is not allowed")
    assert h.send(b"d EXPUNGE\r\n").startswith(b"d BAD EXPUNGE is not allowed now (state: auth)")


def test_unknownCommandAndBadArguments(h: ServerHarness) -> None:
    assert h.send(b"a FROB\r\n") == b"a BAD unknown command FROB\r\n"
    assert h.send(b"b LOGIN onlyone\r\n") == b"b BAD usage: LOGIN user password\r\n"
    assert h.send(b'c LOGIN "unterminated\r\n') == b"c BAD LOGIN: unterminated quoted string\r\n"
    assert h.send(b"d NOOP\r\n") == b"d OK NOOP completed\r\n"


def test_wrongPasswordThenTooManyFailures(h: ServerHarness) -> None:
    for _ in range(4):
        answer = h.send(b"a LOGIN alice wrong\r\n")
        assert answer == b"a NO [AUTHENTICATIONFAILED] LOGIN failed\r\n"
    assert h.send(b"a LOGIN alice wrong\r\n").endswith(b"* BYE too many failed logins\r\n")
    assert h.transport.disconnecting


def test_loginWithoutPortal() -> None:
    server = imap4.IMAP4Server()
    h = ServerHarness(server)
    server.portal = None
    assert h.send(b"a LOGIN alice secret\r\n").startswith(b"a NO [UNAVAILABLE]")


def test_authenticatePlainWithInitialResponse(h: ServerHarness) -> None:
    response = base64.b64encode(b"\0alice\0secret")
    assert h.send(b"a AUTHENTICATE PLAIN " + response + b"\r\n").startswith(b"a OK [CAPABILITY")
    assert h.server.state == "auth"


def test_authenticateCancelledAndMalformed(h: ServerHarness) -> None:
    assert h.send(b"a AUTHENTICATE PLAIN\r\n") == b"+ \r\n"
    assert h.send(b"*\r\n") == b"a BAD AUTHENTICATE cancelled\r\n"
    assert h.send(b"b AUTHENTICATE PLAIN\r\n") == b"+ \r\n"
    assert h.send(b"!!notbase64\r\n").startswith(b"b BAD AUTHENTICATE:")
    assert h.send(b"c AUTHENTICATE PLAIN " + base64.b64encode(b"nonul") + b"\r\n").startswith(
        b"c BAD AUTHENTICATE: an AUTH PLAIN answer"
    )
    assert h.send(b"d AUTHENTICATE GSSAPI\r\n") == b"d NO AUTHENTICATE GSSAPI is not supported\r\n"
    assert h.send(b"e NOOP\r\n") == b"e OK NOOP completed\r\n"


def test_selectReportsTheMailbox(h: ServerHarness) -> None:
    account = h.login()
    inbox = account.select("INBOX")
    inbox.addMessage(SIMPLE, ["\\Seen"])
    inbox.addMessage(MULTIPART)
    answer = h.send(b"a EXAMINE inbox\r\n")
    assert b"* 2 EXISTS\r\n* 2 RECENT\r\n* OK [UNSEEN 2] " in answer
    assert b"* OK [PERMANENTFLAGS ()]" in answer
    assert b"* OK [UIDNEXT 3]" in answer
    assert answer.endswith(b"a OK [READ-ONLY] EXAMINE completed\r\n")
    assert h.send(b"b STORE 1 +FLAGS (\\Deleted)\r\n").startswith(b"b NO [READ-ONLY]")
    assert h.send(b"c EXPUNGE\r\n").startswith(b"c NO [READ-ONLY]")
    fetched = h.send(b"d FETCH 2 BODY[TEXT]\r\n")
    assert b"FLAGS" not in fetched, "EXAMINE must not set \\Seen"
    assert h.send(b"e SELECT nosuch\r\n") == b"e NO no mailbox named nosuch\r\n"
    assert h.server.state == "auth"


def test_fetchSetsSeenUnlessPeek(h: ServerHarness) -> None:
    selected(h, SIMPLE)
    assert b"FLAGS" not in h.send(b"a FETCH 1 BODY.PEEK[]\r\n")
    answer = h.send(b"b FETCH 1 (UID RFC822.TEXT)\r\n")
    assert answer == (
        b"* 1 FETCH (UID 1 RFC822.TEXT {31}\r\nHello Bob,\r\nthis is the body.\r\n"
        b" FLAGS (\\Recent \\Seen))\r\nb OK FETCH completed\r\n"
    )


def test_uidFetchAlwaysIncludesUID(h: ServerHarness) -> None:
    inbox = selected(h, SIMPLE, SIMPLE, SIMPLE)
    inbox.messages[1].flags.add("\\Deleted")
    h.send(b"x EXPUNGE\r\n")
    assert h.send(b"a UID FETCH 2:* FLAGS\r\n") == (
        b"* 2 FETCH (UID 3 FLAGS (\\Recent))\r\na OK UID FETCH completed\r\n"
    )
    assert h.send(b"b UID FETCH 9 FLAGS\r\n") == b"b OK UID FETCH completed\r\n"
    assert h.send(b"c FETCH 0 FLAGS\r\n").startswith(b"c BAD")
    assert h.send(b"d FETCH 1 BOGUS\r\n") == b"d BAD FETCH: unknown fetch item 'BOGUS'\r\n"


def test_storeModesAndSilence(h: ServerHarness) -> None:
    selected(h, SIMPLE)
    assert h.send(b"a STORE 1 FLAGS (\\Answered $Label)\r\n") == (
        b"* 1 FETCH (FLAGS ($Label \\Answered \\Recent))\r\na OK STORE completed\r\n"
    )
    assert h.send(b"b STORE 1 -FLAGS.SILENT ($Label)\r\n") == b"b OK STORE completed\r\n"
    assert h.send(b"c UID STORE 1 +FLAGS \\Seen\r\n") == (
        b"* 1 FETCH (FLAGS (\\Answered \\Recent \\Seen) UID 1)\r\nc OK UID STORE completed\r\n"
    )
    assert h.send(b"d STORE 1 XFLAGS (\\Seen)\r\n").startswith(b"d BAD STORE takes")


def test_expungeNumbersAreAdjusted(h: ServerHarness) -> None:
    inbox = selected(h, SIMPLE, SIMPLE, SIMPLE, SIMPLE)
    h.send(b"a STORE 2:3 +FLAGS.SILENT (\\Deleted)\r\n")
    assert h.send(b"b EXPUNGE\r\n") == b"* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nb OK EXPUNGE completed\r\n"
    assert [e.uid for e in inbox.messages] == [1, 4]


def test_closeExpungesSilentlyAndUnselects(h: ServerHarness) -> None:
    inbox = selected(h, SIMPLE, SIMPLE)
    h.send(b"a STORE 1 +FLAGS.SILENT (\\Deleted)\r\n")
    assert h.send(b"b CLOSE\r\n") == b"b OK CLOSE completed\r\n"
    assert len(inbox.messages) == 1 and inbox.closed and h.server.state == "auth"


def test_unselectKeepsDeletedMessages(h: ServerHarness) -> None:
    inbox = selected(h, SIMPLE)
    h.send(b"a STORE 1 +FLAGS.SILENT (\\Deleted)\r\n")
    assert h.send(b"b UNSELECT\r\n") == b"b OK UNSELECT completed\r\n"
    assert len(inbox.messages) == 1


def test_appendWithFlagsAndDateAndMissingMailbox(h: ServerHarness) -> None:
    account = h.login()
    answer = h.send(b'a APPEND INBOX (\\Seen) "05-Mar-2026 08:09:10 +0100" {5+}\r\nhello\r\n')
    assert answer == b"a OK APPEND completed\r\n"
    ((_, message),) = account.select("INBOX").fetch(imap4.MessageSet(1), False)
    assert message.getInternalDate() == "05 Mar 2026 08:09:10 +0100"
    assert message.getFlags() == ["\\Recent", "\\Seen"]
    assert h.send(b"b APPEND Nope {1+}\r\nx\r\n") == b"b NO [TRYCREATE] no mailbox named Nope\r\n"
    assert h.send(b'c APPEND INBOX "yesterday" {1+}\r\nx\r\n').startswith(b"c BAD bad date-time")
    assert h.send(b"d APPEND INBOX notaliteral\r\n").startswith(b"d BAD APPEND: the message")


def test_mailboxManagement(h: ServerHarness) -> None:
    h.login()
    assert h.send(b"a CREATE Work/Reports/\r\n") == b"a OK CREATE completed\r\n"
    assert (
        h.send(b"b CREATE Work\r\n") == b"b NO CREATE failed: Mailbox named Work already exists\r\n"
    )
    assert h.send(b'c LIST "" %\r\n') == (
        b'* LIST () "/" "INBOX"\r\n* LIST () "/" "Work"\r\nc OK LIST completed\r\n'
    )
    assert h.send(b'd LIST "" ""\r\n') == b'* LIST (\\Noselect) "/" ""\r\nd OK LIST completed\r\n'
    assert h.send(b"e DELETE Work\r\n").startswith(b"e NO DELETE failed: Work has mailboxes below")
    assert h.send(b"f RENAME Work Play\r\n") == b"f OK RENAME completed\r\n"
    assert (
        h.send(b'g LIST "Play/" *\r\n')
        == b'* LIST () "/" "Play/Reports"\r\ng OK LIST completed\r\n'
    )
    assert h.send(b"h DELETE INBOX\r\n").startswith(b"h NO DELETE failed: INBOX cannot")
    assert h.send(b"i DELETE Nope\r\n").startswith(b"i NO DELETE failed: No mailbox named Nope")
    assert h.send(b'j SUBSCRIBE Play\r\nk LSUB "" *\r\n') == (
        b'j OK SUBSCRIBE completed\r\n* LSUB () "/" "Play"\r\nk OK LSUB completed\r\n'
    )
    assert h.send(b"l UNSUBSCRIBE Nope\r\n").startswith(b"l NO UNSUBSCRIBE failed: Not currently")
    assert h.send(b'm CREATE &AOk-t&AOk-\r\nn LIST "" &AOk-*\r\n').endswith(
        b'* LIST () "/" "&AOk-t&AOk-"\r\nn OK LIST completed\r\n'
    )
    assert h.send(b"o CREATE &bad\r\n").startswith(b"o BAD bad mailbox name")


def test_status(h: ServerHarness) -> None:
    account = h.login()
    account.select("INBOX").addMessage(SIMPLE)
    assert h.send(b"a STATUS INBOX (MESSAGES RECENT UIDNEXT UNSEEN)\r\n") == (
        b'* STATUS "INBOX" (MESSAGES 1 RECENT 1 UIDNEXT 2 UNSEEN 1)\r\na OK STATUS completed\r\n'
    )
    assert h.send(b"b STATUS INBOX (BOGUS)\r\n") == b"b BAD unknown STATUS item BOGUS\r\n"
    assert h.send(b"c STATUS nope (MESSAGES)\r\n") == b"c NO no mailbox named nope\r\n"


def test_copyAndTryCreate(h: ServerHarness) -> None:
    account = h.login()
    account.create("Archive")
    account.select("INBOX").addMessage(SIMPLE, ["\\Flagged"])
    h.send(b"s SELECT INBOX\r\n")
    assert h.send(b"a COPY 1 Archive\r\n") == b"a OK COPY completed\r\n"
    archive = account.select("Archive")
    ((_, copied),) = archive.fetch(imap4.MessageSet(1), False)
    assert copied.open().read() == SIMPLE and "\\Flagged" in copied.getFlags()
    assert h.send(b"b COPY 1 Nope\r\n") == b"b NO [TRYCREATE] no mailbox named Nope\r\n"


def test_searchAnswersAndCharsetErrors(h: ServerHarness) -> None:
    selected(h, SIMPLE, MULTIPART)
    assert h.send(b"a SEARCH FROM alice NOT SUBJECT report\r\n") == (
        b"* SEARCH 1\r\na OK SEARCH completed\r\n"
    )
    assert h.send(b"b UID SEARCH ALL\r\n") == b"* SEARCH 1 2\r\nb OK UID SEARCH completed\r\n"
    assert h.send(b"c SEARCH CHARSET KOI9-X ALL\r\n").startswith(b"c NO [BADCHARSET")
    assert h.send(b"d SEARCH FOO\r\n") == b"d BAD SEARCH: unknown SEARCH key 'FOO'\r\n"


@implementer(imap4.ISearchableMailbox)
class SearchingMailbox(imap4.MemoryMailbox):
    def search(self, query: Any, uid: bool) -> list[int]:
        self.asked = (query, uid)
        return [7]


def test_searchableMailboxSearchesItself(h: ServerHarness) -> None:
    account = h.login()
    account.addMailbox("S", SearchingMailbox())
    h.send(b"s SELECT S\r\n")
    assert h.send(b'a SEARCH SUBJECT "x"\r\n') == b"* SEARCH 7\r\na OK SEARCH completed\r\n"
    assert account.select("S").asked == ([b"SUBJECT", b"x"], False)


def test_namespace(h: ServerHarness) -> None:
    h.login()
    assert (
        h.send(b"a NAMESPACE\r\n")
        == b'* NAMESPACE (("" "/")) NIL NIL\r\na OK NAMESPACE completed\r\n'
    )


def test_pipelinedCommandsAnsweredInOrder(h: ServerHarness) -> None:
    h.login()
    answer = h.send(b"a NOOP\r\nb CREATE x\r\nc NOOP\r\n")
    assert answer == b"a OK NOOP completed\r\nb OK CREATE completed\r\nc OK NOOP completed\r\n"


class SlowAccount(imap4.MemoryAccount):
    """An account whose select answers later, with a Deferred."""

    def __init__(self) -> None:
        super().__init__("slow")
        self.waiting: list[defer.Deferred[Any]] = []

    def select(self, name: str, rw: bool = True) -> Any:
        d: defer.Deferred[Any] = defer.Deferred()
        self.waiting.append(d)
        d.addCallback(lambda _: super(SlowAccount, self).select(name, rw))
        return d


def test_deferredAnswersHoldTheNextCommand() -> None:
    h = ServerHarness(realm=AccountRealm(lambda user: SlowAccount()))
    account = h.login()
    assert h.send(b"a SELECT INBOX\r\nb NOOP\r\n") == b""
    account.waiting.pop().callback(None)
    answer = h.take()
    assert answer.endswith(b"a OK [READ-WRITE] SELECT completed\r\nb OK NOOP completed\r\n")


def test_clientFarAheadIsPaused() -> None:
    h = ServerHarness(realm=AccountRealm(lambda user: SlowAccount()))
    account = h.login()
    h.server.maxCommandSize = 1000
    h.send(b"a SELECT INBOX\r\n" + b"b NOOP\r\n" * 200)
    assert h.transport.producerState == "paused"
    account.waiting.pop().callback(None)
    assert h.transport.producerState == "producing"
    assert h.take().count(b"OK NOOP completed") == 200


class BrokenAccount(imap4.MemoryAccount):
    def create(self, pathspec: str) -> bool:
        raise RuntimeError("disk on fire")


def test_unexpectedErrorAnswersNoAndIsLogged(loggedErrors: list[dict[str, Any]]) -> None:  # noqa: F811
    h = ServerHarness(realm=AccountRealm(lambda user: BrokenAccount()))
    h.login()
    assert h.send(b"a CREATE x\r\n") == b"a NO CREATE failed: server error\r\n"
    assert h.send(b"b NOOP\r\n") == b"b OK NOOP completed\r\n"
    assert any("disk on fire" in repr(e) for e in loggedErrors)
    loggedErrors.clear()


def test_idleReportsNewMessagesAndEndsWithDone(h: ServerHarness) -> None:
    inbox = selected(h)
    assert h.send(b"i IDLE\r\n") == b"+ idling\r\n"
    inbox.addMessage(SIMPLE)
    assert h.take() == b"* 1 EXISTS\r\n"
    assert h.send(b"DONE\r\n") == b"i OK IDLE terminated\r\n"
    assert h.send(b"j IDLE\r\n") == b"+ idling\r\n"
    assert h.send(b"NOT-DONE\r\n") == b"j BAD IDLE: expected DONE\r\n"


def test_idlePollsTheMailbox(h: ServerHarness) -> None:
    inbox = selected(h)
    calls: list[int] = []
    inbox.refresh = lambda: calls.append(1)  # type: ignore[method-assign]
    h.send(b"i IDLE\r\n")
    for _ in range(3):
        h.clock.advance(h.server.idlePollInterval)
    assert len(calls) == 3
    h.send(b"DONE\r\n")
    for _ in range(3):
        h.clock.advance(h.server.idlePollInterval)
    assert len(calls) == 3


def test_noticesWaitForACommandOutsideIdle(h: ServerHarness) -> None:
    inbox = selected(h)
    inbox.addMessage(SIMPLE)
    assert h.take() == b""
    assert h.send(b"a NOOP\r\n") == b"* 1 EXISTS\r\na OK NOOP completed\r\n"


def test_idleTimeoutLogsOut(h: ServerHarness) -> None:
    h.login()
    h.clock.advance(h.server.timeOut + 1)  # type: ignore[operator]
    assert h.take() == b"* BYE autologout: no command for too long\r\n"
    assert h.transport.disconnecting


def test_logoutCallsTheAvatarsLogout(h: ServerHarness) -> None:
    h.login()
    assert (
        h.send(b"z LOGOUT\r\n")
        == b"* BYE torsion IMAP4 server logging out\r\nz OK LOGOUT completed\r\n"
    )
    h.server.connectionLost(None)
    assert h.realm.loggedOut == [b"alice"]


def test_starttlsWithoutTLSIsRefused(h: ServerHarness) -> None:
    assert h.send(b"a STARTTLS\r\n").startswith(b"a BAD STARTTLS is not available")


def test_literalLimitsAreTheServers() -> None:
    server = imap4.IMAP4Server()
    server.maxLiteralSize = 10
    h = ServerHarness(server)
    h.login()
    assert h.send(b"a APPEND INBOX {11}\r\n").startswith(b"a NO [TOOBIG]")
    assert b"APPENDLIMIT=10" in h.greeting


_WORDS = [
    b"FETCH", b"1:*", b"(FLAGS", b"BODY[1.2.MIME]<0.5>", b"BODY.PEEK[HEADER.FIELDS (A)]",
    b"SEARCH", b"OR", b"NOT", b"UID", b"STORE", b"+FLAGS", b"(\\Seen)", b"COPY", b"INBOX",
    b"{3+}\r\nabc", b'"q\\"x"', b"(", b")", b"*", b"SINCE", b"1-Jan-2020", b"APPEND",
    b"LIST", b'""', b"%", b"STATUS", b"(MESSAGES)", b"EXPUNGE", b"\xff\xfe", b"{0}\r\n",
]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(_WORDS), max_size=6), max_size=5))
def test_randomCommandsNeverBreakTheSession(commands: list[list[bytes]]) -> None:
    h = ServerHarness()
    selected(h, SIMPLE, MULTIPART)
    data = b"".join(b"t%d " % i + b" ".join(words) + b"\r\n" for i, words in enumerate(commands))
    h.send(data)
    h.send(b")\r\n")
    answer = h.send(b"zz NOOP\r\n")
    assert answer.endswith(b"zz OK NOOP completed\r\n") or b"zz " in answer
    assert not h.transport.disconnecting


class PausingTransport(StringTransport):
    """Says its buffer is full after each write, as a slow client's socket would."""

    def write(self, data: bytes) -> None:
        super().write(data)
        if self.producer is not None:
            self.producer.pauseProducing()


def test_fetchWaitsWhileTheTransportIsFull() -> None:
    h = ServerHarness()
    inbox = selected(h, SIMPLE, SIMPLE, SIMPLE)
    assert len(inbox.messages) == 3
    transport = PausingTransport()
    h.server.transport = transport
    h.server.dataReceived(b"a FETCH 1:* (UID)\r\nb NOOP\r\n")
    assert transport.value() == b"* 1 FETCH (UID 1)\r\n"
    transport.producer.resumeProducing()
    assert transport.value().endswith(b"* 2 FETCH (UID 2)\r\n")
    transport.producer.resumeProducing()
    transport.producer.resumeProducing()
    assert transport.value().endswith(
        b"* 3 FETCH (UID 3)\r\na OK FETCH completed\r\nb OK NOOP completed\r\n"
    )
    assert transport.producer is None


def test_hugeNonSynchronisingLiteralIsSkippedAndTheSessionGoesOn() -> None:
    server = imap4.IMAP4Server()
    server.maxLiteralSize = 1000
    h = ServerHarness(server)
    account = h.login()
    answer = h.send(b"a APPEND INBOX {50000+}\r\n")
    assert answer == (
        b"a NO [TOOBIG] a literal of 50000 bytes is over the limit of 1000 bytes for APPEND\r\n"
    )
    for _ in range(50):
        assert h.send(b"x" * 1000) == b""
        assert h.server._reader.buffered() == 0
    assert h.send(b"\r\nb NOOP\r\n") == b"b OK NOOP completed\r\n"
    assert account.select("INBOX").getMessageCount() == 0
