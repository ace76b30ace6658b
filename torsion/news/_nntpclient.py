"""The client side of NNTP: ``NNTPClient`` (re-exported by torsion.news.nntp).

Each request is sent when the one before it is answered (no pipelining: a POST must
wait for its 340 anyway) and returns a Deferred of its parsed answer; the Twisted
callbacks (``gotGroup``, ``getGroupFailed``, ``gotArticle``, ``postedOk`` ...) are
called too, so a Twisted subclass that overrides them works unchanged. A refused
request fails its Deferred with ``NNTPError`` (the reply's code and text); a reply that
is not NNTP, or over the size limits, ends the connection and fails every request.
Tests: tests/news/test_nntpclient.py (against torsion's server and in memory).
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torsion.internet.defer import Deferred
from torsion.internet.protocol import Protocol
from torsion.news._nntpcodec import DotStuffer, LineBuffer, formatDate
from torsion.python.failure import Failure

__all__ = ["NNTPClient", "NNTPError", "UsenetClientProtocol"]


class NNTPError(Exception):
    """The server refused a request: ``code`` and ``text`` are its reply."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


Parser = Callable[[str, list[bytes]], Any]


@dataclass(slots=True)
class _Request:
    command: bytes | None
    ok: frozenset[int]
    parse: Parser
    success: str
    failure: str
    multiline: bool = False
    article: bytes | None = None
    password: bytes | None = None
    sent: bool = False
    deferred: Deferred[Any] = field(default_factory=Deferred)


def _lines(text: str, lines: list[bytes]) -> list[str]:
    return [line.decode("utf-8", "replace") for line in lines]


def _text(text: str, lines: list[bytes]) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


def _groups(text: str, lines: list[bytes]) -> list[tuple[str, int, int, str]]:
    groups = []
    for line in lines:
        parts = line.decode("utf-8", "replace").split()
        if len(parts) >= 4 and parts[1].isdigit() and parts[2].isdigit():
            groups.append((parts[0], int(parts[1]), int(parts[2]), parts[3]))
    return groups


def _group(text: str, lines: list[bytes]) -> tuple[int, int, int, str]:
    parts = text.split()
    try:
        return int(parts[0]), int(parts[1]), int(parts[2]), parts[3]
    except (IndexError, ValueError):
        raise NNTPError(211, f"a GROUP reply that makes no sense: {text}") from None


def _overview(text: str, lines: list[bytes]) -> list[dict[str, str]]:
    names = ["number", "subject", "from", "date", "message-id", "references", "bytes", "lines"]
    entries = []
    for line in lines:
        values = line.decode("utf-8", "replace").split("\t")
        entries.append(dict(zip(names, values, strict=False)))
    return entries


def _xheader(text: str, lines: list[bytes]) -> list[tuple[str, str]]:
    pairs = []
    for line in lines:
        number, _, value = line.decode("utf-8", "replace").partition(" ")
        pairs.append((number, value))
    return pairs


def _nothing(text: str, lines: list[bytes]) -> None:
    return None


def _status(text: str, lines: list[bytes]) -> str:
    return text


class NNTPClient(Protocol):
    """An NNTP client connection: call the ``fetch...`` methods, get Deferreds.

    ``postingAllowed`` says what the greeting said (200 yes, 201 no); ``whenReady()``
    fires once the greeting is in. Limits: a reply line of ``MAX_LINE`` bytes, a
    multi-line reply of ``maxResponseBytes``.
    """

    MAX_LINE = 64 * 1024
    maxResponseBytes = 64 * 1024 * 1024

    def __init__(self) -> None:
        self._buffer = LineBuffer(self.MAX_LINE)
        self._requests: deque[_Request] = deque()
        self._block: list[bytes] | None = None
        self._blockSize = 0
        self._blockText = ""
        self.postingAllowed = False
        self.greeting: str | Failure | None = None
        self._greetingWaiters: list[Deferred[str]] = []
        greeting = _Request(None, frozenset({200, 201}), _status, "_noop", "_noop")
        self._requests.append(greeting)
        greeting.deferred.addBoth(self._greeted)

    def _greeted(self, result: str | Failure) -> None:
        self.greeting = result
        self.postingAllowed = self._lastCode == 200
        waiters, self._greetingWaiters = self._greetingWaiters, []
        for waiter in waiters:
            if isinstance(result, str):
                waiter.callback(result)
            else:
                waiter.errback(result)

    def whenReady(self) -> Deferred[str]:
        """A Deferred that fires with the greeting's text once it has arrived (and
        fails with NNTPError if the server said it cannot serve us)."""
        d: Deferred[str] = Deferred()
        if self.greeting is None:
            self._greetingWaiters.append(d)
        elif isinstance(self.greeting, str):
            d.callback(self.greeting)
        else:
            d.errback(self.greeting)
        return d

    # -- the requests (Twisted's names) ------------------------------------------------

    def _request(
        self,
        command: str,
        ok: set[int],
        parse: Parser,
        success: str,
        failure: str,
        multiline: bool = False,
        article: bytes | None = None,
        password: bytes | None = None,
    ) -> Deferred[Any]:
        if "\r" in command or "\n" in command:
            raise ValueError(f"an NNTP command is one line: {command!r}")
        request = _Request(
            command.encode("utf-8"),
            frozenset(ok),
            parse,
            success,
            failure,
            multiline,
            article,
            password,
        )
        self._requests.append(request)
        if len(self._requests) == 1:
            self._sendCommand()
        return request.deferred

    def fetchGroups(self) -> Deferred[list[tuple[str, int, int, str]]]:
        """LIST: every group as (name, highest, lowest, posting flag)."""
        return self._request("LIST", {215}, _groups, "gotAllGroups", "getAllGroupsFailed", True)

    def fetchOverview(self) -> Deferred[list[str]]:
        """LIST OVERVIEW.FMT: the names of the overview fields."""
        return self._request(
            "LIST OVERVIEW.FMT", {215}, _lines, "gotOverview", "getOverviewFailed", True
        )

    def fetchSubscriptions(self) -> Deferred[list[str]]:
        """LIST SUBSCRIPTIONS: the groups the server suggests."""
        return self._request(
            "LIST SUBSCRIPTIONS", {215}, _lines, "gotSubscriptions", "getSubscriptionsFailed", True
        )

    def fetchGroup(self, group: str) -> Deferred[tuple[int, int, int, str]]:
        """GROUP: select ``group``; (article count, lowest, highest, name)."""
        return self._request(f"GROUP {group}", {211}, _group, "gotGroup", "getGroupFailed")

    def fetchHead(self, index: int | str = "") -> Deferred[bytes]:
        """HEAD of article ``index`` (a number or message-id; the current one if empty)."""
        return self._article("HEAD", index, 221, "gotHead", "getHeadFailed")

    def fetchBody(self, index: int | str = "") -> Deferred[bytes]:
        """BODY of article ``index``."""
        return self._article("BODY", index, 222, "gotBody", "getBodyFailed")

    def fetchArticle(self, index: int | str = "") -> Deferred[bytes]:
        """ARTICLE ``index``: its headers and body, CRLF line ends, dot-stuffing undone."""
        return self._article("ARTICLE", index, 220, "gotArticle", "getArticleFailed")

    def _article(self, verb: str, index: int | str, code: int, ok: str, no: str) -> Deferred[bytes]:
        command = f"{verb} {index}".rstrip()
        return self._request(command, {code}, _text, ok, no, True)

    def fetchOver(self, spec: int | str = "") -> Deferred[list[dict[str, str]]]:
        """OVER (a number, ``low-high``, ``low-`` or message-id): one dict per article,
        keyed number, subject, from, date, message-id, references, bytes, lines."""
        command = f"OVER {spec}".rstrip()
        return self._request(command, {224}, _overview, "gotOver", "getOverFailed", True)

    def postArticle(self, text: bytes) -> Deferred[str]:
        """POST ``text`` (a whole article; LF or CRLF line ends); the 240 reply's text."""
        return self._request("POST", {240}, _status, "postedOk", "postFailed", article=text)

    def fetchNewNews(
        self, groups: list[str] | str, date: datetime.datetime | str, distributions: str = ""
    ) -> Deferred[list[str]]:
        """NEWNEWS: message-ids of articles in ``groups`` that arrived since ``date``."""
        wildmat = groups if isinstance(groups, str) else ",".join(groups)
        command = f"NEWNEWS {wildmat} {self._date(date)} {distributions}".rstrip()
        return self._request(command, {230}, _lines, "gotNewNews", "getNewNewsFailed", True)

    def fetchNewGroups(
        self, date: datetime.datetime | str, distributions: str = ""
    ) -> Deferred[list[tuple[str, int, int, str]]]:
        """NEWGROUPS: the groups made since ``date``."""
        command = f"NEWGROUPS {self._date(date)} {distributions}".rstrip()
        return self._request(command, {231}, _groups, "gotNewGroups", "getNewGroupsFailed", True)

    @staticmethod
    def _date(date: datetime.datetime | str) -> str:
        if isinstance(date, str):
            return date
        day, time = formatDate(date)
        return f"{day} {time} GMT"

    def fetchXHeader(
        self, header: str, low: int | None = None, high: int | None = None, id: str | None = None
    ) -> Deferred[list[tuple[str, str]]]:
        """XHDR ``header`` of article ``id``, or of ``low``-``high``: (number, value)s."""
        if id is not None:
            spec = id
        elif low is not None:
            spec = f"{low}-{high if high is not None else ''}"
        else:
            spec = ""
        command = f"XHDR {header} {spec}".rstrip()
        return self._request(command, {221}, _xheader, "gotXHeader", "getXHeaderFailed", True)

    def fetchHelp(self) -> Deferred[list[str]]:
        """HELP: the server's help text."""
        return self._request("HELP", {100}, _lines, "gotHelp", "getHelpFailed", True)

    def fetchCapabilities(self) -> Deferred[list[str]]:
        """CAPABILITIES (RFC 3977): the capability lines."""
        return self._request(
            "CAPABILITIES", {101}, _lines, "gotCapabilities", "getCapabilitiesFailed", True
        )

    def setStream(self) -> Deferred[str]:
        """MODE STREAM (RFC 4644)."""
        return self._request("MODE STREAM", {203}, _status, "setStreamSuccess", "setStreamFailed")

    def login(self, user: str, password: str) -> Deferred[str]:
        """AUTHINFO USER and PASS (RFC 4643); fails with NNTPError 481 if refused."""
        if "\r" in password or "\n" in password:
            raise ValueError("a password is one line")
        return self._request(
            f"AUTHINFO USER {user}",
            {281},
            _status,
            "_noop",
            "_noop",
            password=password.encode("utf-8"),
        )

    def quit(self) -> Deferred[None]:
        """QUIT, then close."""
        d = self._request("QUIT", {205}, _nothing, "_noop", "_noop")
        d.addBoth(lambda result: (self.transport.loseConnection(), result)[1])
        return d

    def _noop(self, *args: object) -> None:
        pass

    # -- input ------------------------------------------------------------------------------

    _lastCode = 0

    def dataReceived(self, data: bytes) -> None:
        for line in self._buffer.feed(data):
            if line is None:
                self._protocolError(f"a reply line longer than {self.MAX_LINE} bytes")
                return
            self.lineReceived(line)
            if self.transport is None or self.transport.disconnecting:
                return

    def lineReceived(self, line: bytes) -> None:
        if self._block is not None:
            self._blockLine(line)
            return
        if not self._requests:
            self._protocolError(f"a reply nobody asked for: {line[:80]!r}")
            return
        request = self._requests[0]
        status = line.decode("utf-8", "replace")
        code, _, text = status.partition(" ")
        if len(code) != 3 or not code.isdigit():
            self._protocolError(f"not an NNTP reply: {line[:80]!r}")
            return
        self._lastCode = number = int(code)
        if number == 340 and request.article is not None:
            stuffer = DotStuffer()
            self.transport.write(stuffer.feed(request.article) + stuffer.finish())
            request.article = None
        elif number == 381 and request.password is not None:
            self.transport.write(b"AUTHINFO PASS " + request.password + b"\r\n")
            request.password = None
        elif number in request.ok and request.multiline:
            self._block = []
            self._blockSize = 0
            self._blockText = text
        elif number in request.ok:
            self._finish(request.parse, text, [])
        else:
            self._fail(NNTPError(number, text))

    def _blockLine(self, line: bytes) -> None:
        if line == b".":
            lines, self._block = self._block or [], None
            self._finish(self._requests[0].parse, self._blockText, lines)
            return
        self._blockSize += len(line) + 2
        if self._blockSize > self.maxResponseBytes:
            self._protocolError(f"a reply longer than {self.maxResponseBytes} bytes")
            return
        assert self._block is not None
        self._block.append(line[1:] if line.startswith(b".") else line)

    def _finish(self, parse: Parser, text: str, lines: list[bytes]) -> None:
        request = self._requests.popleft()
        try:
            value = parse(text, lines)
        except NNTPError as e:
            self._settle(request, e)
        else:
            getattr(self, request.success, self._noop)(value)
            request.deferred.callback(value)
        self._sendCommand()

    def _fail(self, error: NNTPError) -> None:
        self._settle(self._requests.popleft(), error)
        self._sendCommand()

    def _settle(self, request: _Request, error: Exception) -> None:
        getattr(self, request.failure, self._noop)(str(error))
        request.deferred.errback(Failure(error))

    def _sendCommand(self) -> None:
        """Send the first waiting request's command, unless it was sent already (a
        callback of the request before it may have made and sent it)."""
        if not self._requests or self.transport is None:
            return
        head = self._requests[0]
        if head.command is not None and not head.sent:
            head.sent = True
            self.transport.write(head.command + b"\r\n")

    def connectionMade(self) -> None:
        # Requests made before the connection wait for the greeting (first in line).
        pass

    def _protocolError(self, why: str) -> None:
        self.transport.loseConnection()
        self._failAll(NNTPError(0, f"protocol error: {why}"))

    def connectionLost(self, reason: object = None) -> None:
        self._failAll(NNTPError(0, "the connection was lost"))

    def _failAll(self, error: NNTPError) -> None:
        requests, self._requests = list(self._requests), deque()
        self._block = None
        for request in requests:
            self._settle(request, error)


class UsenetClientProtocol(NNTPClient):
    """Twisted's name for an NNTPClient that a news server uses to pull from a peer."""
