"""NNTP (RFC 3977): the news server protocol, and (from _nntpclient) the client.

``NNTPServer`` is one connection of a news server, made by torsion.news.news's
``NNTPFactory`` over a ``NewsSpool``. It speaks the reader commands of RFC 3977:
CAPABILITIES, MODE READER, LIST (ACTIVE, ACTIVE.TIMES, NEWSGROUPS, OVERVIEW.FMT),
GROUP, LISTGROUP, ARTICLE/HEAD/BODY/STAT by number or message-id, NEXT, LAST, POST,
OVER and XOVER, HDR and XHDR, NEWNEWS, NEWGROUPS, DATE, HELP, QUIT, and AUTHINFO
USER/PASS (RFC 4643) through a Cred portal when the factory has one.

Bad input gets its reply and the connection goes on: an unknown command 500, a
malformed one (a bad range, wildmat or date, a line over 512 octets, bytes that are
not UTF-8) 501, an article that breaks the rules or the size limit 441 after its
terminating dot. An idle connection is closed after the factory's ``idleTimeout``;
three refused passwords close it too. ``NNTPClient`` is the client side (Twisted's
name and callbacks, and a Deferred from each request).
Tests: tests/news/test_nntpserver.py (in memory), tests/news/test_nntplib.py (Python's
nntplib against ``torsiond news``), tests/news/test_nntpclient.py.
"""

from __future__ import annotations

import datetime
import inspect
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from zope.interface import Interface, implementer

from torsion.cred import credentials
from torsion.cred import error as crederror
from torsion.internet.protocol import Protocol
from torsion.logger import Logger
from torsion.news._nntpclient import NNTPClient, NNTPError, UsenetClientProtocol
from torsion.news._nntpcodec import (
    Command,
    LineBuffer,
    NNTPSyntaxError,
    encodeMultiline,
    isMessageId,
    parseCommand,
    parseDateTime,
    parseRange,
    wildmat,
)
from torsion.news.database import OVERVIEW_FORMAT, Article, Group, PostingError
from torsion.protocols.policies import TimeoutMixin
from torsion.python.failure import Failure

__all__ = [
    "INewsReader",
    "NNTPClient",
    "NNTPError",
    "NNTPServer",
    "UsenetClientProtocol",
]

_log = Logger(namespace="torsion.news.nntp")

# Lines of a posted article may be 998 octets, one more for dot-stuffing (RFC 5536).
_MAX_LINE = 999
# Command lines that may wait while a login is checked; more pause the reading.
_MAX_QUEUED = 64

_HELP = [
    b"ARTICLE|HEAD|BODY|STAT [number|<message-id>]",
    b"AUTHINFO USER name | AUTHINFO PASS password",
    b"CAPABILITIES",
    b"DATE",
    b"GROUP name",
    b"HDR|XHDR header [range|<message-id>]",
    b"HELP",
    b"LAST",
    b"LIST [ACTIVE [wildmat]|ACTIVE.TIMES [wildmat]|NEWSGROUPS [wildmat]|OVERVIEW.FMT]",
    b"LISTGROUP [name [range]]",
    b"MODE READER",
    b"NEWGROUPS [yy]yymmdd hhmmss [GMT]",
    b"NEWNEWS wildmat [yy]yymmdd hhmmss [GMT]",
    b"NEXT",
    b"OVER|XOVER [range|<message-id>]",
    b"POST",
    b"QUIT",
]


class INewsReader(Interface):
    """The avatar a Cred realm gives a news reader who logged in with AUTHINFO.

    Providing it is all that is asked: the server records who logged in (the avatar
    id) and lets them post, or read, as the factory's ``authRequired`` says.
    """


class _Reply(Exception):
    """Raised by a command handler: send this reply and stop."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


@implementer(INewsReader)
class NewsReader:
    """The avatar of a logged-in reader: just the name it logged in with."""

    def __init__(self, name: str) -> None:
        self.name = name


class NNTPServer(Protocol, TimeoutMixin):
    """One NNTP connection; ``factory`` is an NNTPFactory (storage, portal, limits)."""

    factory: Any

    def __init__(self) -> None:
        self._lines = LineBuffer(_MAX_LINE)
        self._queued: deque[bytes | None] = deque()
        self._waiting = False
        # The transport's buffer to the reader is full: answer nothing more for now.
        self._outputPaused = False
        self._readingPaused = False
        self._rawLine = b""
        self.currentGroup: Group | None = None
        self.currentNumber: int | None = None
        self.user: str | None = None
        self._pendingUser: str | None = None
        self._loginFailures = 0
        # While an article is being posted: its lines so far, or None after an error.
        self._posting = False
        self._article: list[bytes] | None = None
        self._articleSize = 0
        self._articleError: str | None = None

    # -- connection -----------------------------------------------------------------------

    @property
    def storage(self) -> Any:
        return self.factory.storage

    def _postingAllowed(self) -> bool:
        return bool(self.factory.postingAllowed)

    def callLater(self, period: float, func: Callable[[], object]) -> Any:
        """The idle timer runs on the factory's reactor (a Clock in tests)."""
        return self.factory.reactor.callLater(period, func)

    def connectionMade(self) -> None:
        self.setTimeout(self.factory.idleTimeout)
        # As the transport's producer, the server is paused when a reader does not read
        # what it asked for: it stops answering (and reading) until that has drained,
        # so a reader asking for many big articles never makes it buffer them all.
        self.transport.registerProducer(self, True)
        if self._postingAllowed():
            self.sendLine(200, "torsion.news server ready, posting allowed")
        else:
            self.sendLine(201, "torsion.news server ready, no posting")

    def connectionLost(self, reason: object = None) -> None:
        self.setTimeout(None)
        self._queued.clear()

    def timeoutConnection(self) -> None:
        """Idle for too long: say so (400) and close."""
        self.sendLine(400, "idle for too long, closing")
        self.transport.loseConnection()

    def sendLine(self, code: int, text: str) -> None:
        """Send one status line."""
        self.transport.write(f"{code} {text}\r\n".encode())

    def sendBlock(self, code: int, text: str, lines: Iterable[bytes]) -> None:
        """Send a status line and a multi-line data block in one write."""
        self.transport.write(f"{code} {text}\r\n".encode() + encodeMultiline(lines))

    # -- input ------------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        self._queued.extend(self._lines.feed(data))
        self._runQueue()

    def pauseProducing(self) -> None:
        """The transport has more than its buffer size waiting to go to the reader."""
        self._outputPaused = True

    def resumeProducing(self) -> None:
        """The reader took what was sent: go on with the commands it sent."""
        self._outputPaused = False
        self._runQueue()

    def stopProducing(self) -> None:
        """The connection is closing: nothing more will be sent."""
        self._queued.clear()

    def _runQueue(self) -> None:
        transport = self.transport
        while (
            self._queued
            and not self._waiting
            and not self._outputPaused
            and not transport.disconnecting
        ):
            line = self._queued.popleft()
            if self._posting:
                self._articleLine(line)
            else:
                self._commandLine(line)
        # Read no more while what was read cannot be answered (a login being checked,
        # a reader not reading); a few lines may wait, never more than one read's worth.
        blocked = (self._waiting or self._outputPaused) and len(self._queued) > _MAX_QUEUED
        if blocked and not self._readingPaused:
            self._readingPaused = True
            transport.pauseProducing()
        elif not blocked and self._readingPaused and not transport.disconnecting:
            self._readingPaused = False
            transport.resumeProducing()

    def _commandLine(self, line: bytes | None) -> None:
        try:
            if line is None:
                raise NNTPSyntaxError("command line longer than 512 octets")
            self._rawLine = line
            command = parseCommand(line)
            handler = getattr(self, "do_" + command.verb.replace(".", "_"), None)
            if handler is None or not command.verb.isalpha():
                raise _Reply(500, f"unknown command {command.verb[:40]}")
            try:
                inspect.signature(handler).bind(*command.arguments)
            except TypeError:
                raise NNTPSyntaxError(
                    f"{command.verb} does not take {len(command.arguments)} arguments (see HELP)"
                ) from None
            self._checkAllowed(command)
            handler(*command.arguments)
        except _Reply as reply:
            self.sendLine(reply.code, reply.text)
        except NNTPSyntaxError as e:
            self.sendLine(501, str(e))
        except PostingError as e:
            self.sendLine(441, str(e))
        except Exception:
            _log.failure("NNTP command {line!r} failed", line=line)
            self.sendLine(403, "internal fault, the command was not done")

    def _checkAllowed(self, command: Command) -> None:
        if self.factory.authRequired != "all" or self.user is not None:
            return
        if command.verb not in ("AUTHINFO", "CAPABILITIES", "HELP", "MODE", "QUIT", "DATE"):
            raise _Reply(480, "log in first (AUTHINFO USER)")

    # -- capabilities and modes ---------------------------------------------------------

    def do_CAPABILITIES(self, *keyword: str) -> None:
        lines = [b"VERSION 2", b"IMPLEMENTATION torsion.news", b"READER"]
        if self._postingAllowed():
            lines.append(b"POST")
        lines += [
            b"LIST ACTIVE ACTIVE.TIMES NEWSGROUPS OVERVIEW.FMT",
            b"OVER MSGID",
            b"HDR",
            b"NEWNEWS",
        ]
        if self.factory.portal is not None and self.user is None:
            lines.append(b"AUTHINFO USER")
        self.sendBlock(101, "capability list follows", lines)

    def do_MODE(self, variant: str) -> None:
        if variant.upper() != "READER":
            raise NNTPSyntaxError(f"MODE {variant}: only MODE READER is known here")
        if self._postingAllowed():
            self.sendLine(200, "reader mode, posting allowed")
        else:
            self.sendLine(201, "reader mode, no posting")

    def do_HELP(self) -> None:
        self.sendBlock(100, "help text follows", _HELP)

    def do_DATE(self) -> None:
        now = datetime.datetime.fromtimestamp(self.factory.clock(), datetime.UTC)
        self.sendLine(111, now.strftime("%Y%m%d%H%M%S"))

    def do_QUIT(self) -> None:
        self.sendLine(205, "closing connection")
        self.transport.loseConnection()

    # -- lists ------------------------------------------------------------------------------

    def do_LIST(self, keyword: str = "ACTIVE", pattern: str | None = None) -> None:
        keyword = keyword.upper()
        if keyword == "OVERVIEW.FMT":
            if pattern is not None:
                raise NNTPSyntaxError("LIST OVERVIEW.FMT takes no wildmat")
            self.sendBlock(215, "order of fields in overview database", _overviewFormat())
            return
        if keyword not in ("ACTIVE", "ACTIVE.TIMES", "NEWSGROUPS"):
            raise NNTPSyntaxError(f"LIST {keyword[:40]}: not a list this server has")
        groups = self.storage.groups()
        if pattern is not None:
            matches = wildmat(pattern)
            groups = [g for g in groups if matches(g.name)]
        if keyword == "ACTIVE":
            lines = [_activeLine(g, self._postingAllowed()) for g in groups]
            self.sendBlock(215, "list of newsgroups follows", lines)
        elif keyword == "ACTIVE.TIMES":
            lines = [f"{g.name} {int(g.created)} news".encode() for g in groups]
            self.sendBlock(215, "newsgroup creation times follow", lines)
        else:
            lines = [f"{g.name}\t{g.description}".encode() for g in groups]
            self.sendBlock(215, "descriptions follow", lines)

    def do_NEWGROUPS(self, date: str, when: str, gmt: str | None = None) -> None:
        since = parseDateTime(date, when, gmt).timestamp()
        lines = [_activeLine(g, self._postingAllowed()) for g in self.storage.newGroups(since)]
        self.sendBlock(231, "list of new newsgroups follows", lines)

    def do_NEWNEWS(self, pattern: str, date: str, when: str, gmt: str | None = None) -> None:
        matches = wildmat(pattern)
        since = parseDateTime(date, when, gmt).timestamp()
        found = self.storage.newNews(matches, since)
        self.sendBlock(230, "list of new articles follows", [m.encode() for m in found])

    # -- groups and the current article -----------------------------------------------------

    def _selectGroup(self, name: str) -> Group:
        group: Group | None = self.storage.group(name)
        if group is None:
            raise _Reply(411, f"no such newsgroup {name[:100]}")
        self.currentGroup = group
        self.currentNumber = group.numbers[0] if group.numbers else None
        return group

    def do_GROUP(self, name: str) -> None:
        group = self._selectGroup(name)
        self.sendLine(211, f"{group.count} {group.low} {group.highest} {group.name}")

    def do_LISTGROUP(self, name: str | None = None, articles: str = "1-") -> None:
        group = self._group() if name is None else self._selectGroup(name)
        low, high = parseRange(articles)
        numbers = [str(e.number).encode() for e in group.inRange(low, high)]
        self.sendBlock(211, f"{group.count} {group.low} {group.highest} {group.name}", numbers)

    def _group(self) -> Group:
        group = self.currentGroup
        if group is None:
            raise _Reply(412, "no newsgroup selected (GROUP first)")
        return group

    def _current(self) -> int:
        group = self._group()
        if self.currentNumber is None or self.currentNumber not in group.entries:
            raise _Reply(420, "no current article")
        return self.currentNumber

    def do_NEXT(self) -> None:
        number = self._current()
        following = self._group().after(number)
        if following is None:
            raise _Reply(421, "no next article in this group")
        self.currentNumber = following
        self.sendLine(223, f"{following} {self._group().entries[following].messageId}")

    def do_LAST(self) -> None:
        number = self._current()
        previous = self._group().before(number)
        if previous is None:
            raise _Reply(422, "no previous article in this group")
        self.currentNumber = previous
        self.sendLine(223, f"{previous} {self._group().entries[previous].messageId}")

    # -- articles ---------------------------------------------------------------------------

    def _find(self, spec: str | None) -> tuple[int, Article]:
        """The article a command names: (its number here or 0, the article)."""
        if spec is not None and spec.startswith("<"):
            if not isMessageId(spec):
                raise NNTPSyntaxError(f"{spec[:60]} is not a message-id")
            article = self.storage.articleByMessageId(spec)
            if article is None:
                raise _Reply(430, f"no article {spec}")
            return 0, article
        if spec is None:
            number = self._current()
        else:
            if not spec.isdigit() or len(spec) > 16:
                raise NNTPSyntaxError(f"{spec[:40]!r} is not an article number or message-id")
            number = int(spec)
            if number not in self._group().entries:
                raise _Reply(423, f"no article {number} in {self._group().name}")
        article = self.storage.articleByNumber(self._group().name, number)
        if article is None:
            raise _Reply(423, f"article {number} is gone")
        self.currentNumber = number
        return number, article

    def do_ARTICLE(self, spec: str | None = None) -> None:
        number, article = self._find(spec)
        lines = article.raw.split(b"\r\n")[:-1]
        self.sendBlock(220, f"{number} {article.messageId} article follows", lines)

    def do_HEAD(self, spec: str | None = None) -> None:
        number, article = self._find(spec)
        self.sendBlock(
            221, f"{number} {article.messageId} headers follow", article.head.split(b"\r\n")
        )

    def do_BODY(self, spec: str | None = None) -> None:
        number, article = self._find(spec)
        lines = article.body.split(b"\r\n")[:-1]
        self.sendBlock(222, f"{number} {article.messageId} body follows", lines)

    def do_STAT(self, spec: str | None = None) -> None:
        number, article = self._find(spec)
        self.sendLine(223, f"{number} {article.messageId}")

    # -- overview and headers ---------------------------------------------------------------

    def _entries(self, spec: str | None, messageIds: bool) -> list[tuple[int, Any]]:
        """(number to show, OverviewEntry) for OVER/HDR's argument."""
        if spec is not None and spec.startswith("<"):
            if not messageIds or not isMessageId(spec):
                raise NNTPSyntaxError(f"{spec[:60]}: give an article number or range")
            places = self.storage.placesOf(spec)
            if not places:
                raise _Reply(430, f"no article {spec}")
            groupName, number = places[0]
            return [(0, self.storage.group(groupName).entries[number])]
        group = self._group()
        if spec is None:
            return [(self._current(), group.entries[self._current()])]
        low, high = parseRange(spec)
        entries = [(e.number, e) for e in group.inRange(low, high)]
        if not entries:
            raise _Reply(423, "no articles in that range")
        return entries

    def do_OVER(self, spec: str | None = None) -> None:
        lines = [
            "\t".join([str(number), *entry.fields()]).encode()
            for number, entry in self._entries(spec, messageIds=True)
        ]
        self.sendBlock(224, "overview information follows", lines)

    def do_XOVER(self, spec: str | None = None) -> None:
        # XOVER (RFC 2980) is OVER without the message-id form.
        if spec is not None and spec.startswith("<"):
            raise NNTPSyntaxError("XOVER takes an article number or range")
        self.do_OVER(spec)

    def _headerLines(self, header: str, spec: str | None) -> list[bytes]:
        wanted = header.lower()
        overviewIndex = {
            name.strip(":").lower(): index for index, name in enumerate(OVERVIEW_FORMAT)
        }
        if wanted in (":bytes", ":lines"):
            wanted = wanted[1:]
        lines = []
        for number, entry in self._entries(spec, messageIds=True):
            if wanted in overviewIndex:
                value = entry.fields()[overviewIndex[wanted]]
            else:
                article = self.storage.articleByMessageId(entry.messageId)
                value = (article.getHeader(header) if article else None) or ""
            lines.append(f"{number} {value}".encode())
        return lines

    def do_HDR(self, header: str, spec: str | None = None) -> None:
        self.sendBlock(225, "headers follow", self._headerLines(header, spec))

    def do_XHDR(self, header: str, spec: str | None = None) -> None:
        self.sendBlock(221, f"{header[:40]} header follows", self._headerLines(header, spec))

    # -- posting ------------------------------------------------------------------------------

    def do_POST(self) -> None:
        if not self._postingAllowed():
            raise _Reply(440, "posting not permitted")
        if self.factory.authRequired is not None and self.user is None:
            raise _Reply(480, "log in to post (AUTHINFO USER)")
        self._posting = True
        self._article = []
        self._articleSize = 0
        self._articleError = None
        self.sendLine(340, "send article to be posted, end with <CR-LF>.<CR-LF>")

    def _articleLine(self, line: bytes | None) -> None:
        if line == b".":
            self._posting = False
            self._finishArticle()
            return
        if line is None:
            self._refuseArticle("a line is longer than 998 octets")
            return
        if line.startswith(b"."):
            line = line[1:]
        self._articleSize += len(line) + 2
        if self._articleSize > self.factory.maxArticleBytes:
            self._refuseArticle(f"the article is over {self.factory.maxArticleBytes} bytes")
        elif self._article is not None:
            self._article.append(line)

    def _refuseArticle(self, why: str) -> None:
        if self._articleError is None:
            self._articleError = why
        self._article = None

    def _finishArticle(self) -> None:
        lines, self._article = self._article, None
        if lines is None:
            self.sendLine(441, f"posting failed: {self._articleError}")
            return
        try:
            article = self.storage.postArticle(b"\r\n".join(lines) + b"\r\n")
        except PostingError as e:
            self.sendLine(441, f"posting failed: {e}")
            return
        except OSError as e:
            _log.error("could not store a posted article: {e}", e=e)
            self.sendLine(441, "posting failed: the spool cannot be written")
            return
        self.sendLine(240, f"article received OK {article.messageId}")

    # -- AUTHINFO (RFC 4643) ----------------------------------------------------------------

    def do_AUTHINFO(self, kind: str, *value: str) -> None:
        if self.factory.portal is None:
            raise _Reply(503, "no logins on this server")
        if self.user is not None:
            raise _Reply(502, "already logged in")
        kind = kind.upper()
        # A password may contain spaces, even several in a row: take the rest of the
        # line as it was sent.
        parts = self._rawLine.split(None, 2)
        argument = parts[2].decode("utf-8").rstrip(" \t") if len(parts) == 3 else ""
        if not argument:
            raise NNTPSyntaxError(f"AUTHINFO {kind} needs a value")
        if kind == "USER":
            self._pendingUser = argument
            self.sendLine(381, "password required")
        elif kind == "PASS":
            if self._pendingUser is None:
                raise _Reply(482, "AUTHINFO USER first")
            name, self._pendingUser = self._pendingUser, None
            self._login(name, argument)
        else:
            raise NNTPSyntaxError(f"AUTHINFO {kind[:20]}: only USER and PASS are known here")

    def _login(self, name: str, password: str) -> None:
        self._waiting = True
        d = self.factory.portal.login(
            credentials.UsernamePassword(name.encode(), password.encode()), None, INewsReader
        )
        d.addCallbacks(self._loggedIn, self._loginFailed, (name,))
        d.addErrback(self._loginError)
        d.addBoth(self._doneWaiting)

    def _loggedIn(self, result: tuple[Any, Any, Callable[[], object]], name: str) -> None:
        self.user = name
        self.sendLine(281, "authentication accepted")

    def _loginFailed(self, reason: Failure) -> None:
        reason.trap(crederror.UnauthorizedLogin, crederror.UnhandledCredentials)
        self._loginFailures += 1
        self.sendLine(481, "authentication failed")
        if self._loginFailures >= self.factory.maxLoginFailures:
            self.transport.loseConnection()

    def _loginError(self, reason: Failure) -> None:
        _log.failure("NNTP login failed unexpectedly", reason)
        self.sendLine(403, "internal fault during login")

    def _doneWaiting(self, _: object) -> None:
        self._waiting = False
        if self.transport is not None:
            self._runQueue()


def _activeLine(group: Group, posting: bool) -> bytes:
    return f"{group.name} {group.highest} {group.low} {'y' if posting else 'n'}".encode()


def _overviewFormat() -> list[bytes]:
    return [name.encode() for name in OVERVIEW_FORMAT]
