"""Finger (RFC 1288): a server that answers from a user database, and a client.

The server, ``Finger``, reads one query line, answers it and closes, as the RFC
says. What it answers comes from three methods, which a subclass overrides or which
a ``FingerFactory`` feeds from callables:

- ``getUser(slash_w, user)``: the query ``alice`` (``/W alice`` asks for the verbose
  form); by default the factory's ``database(user, verbose)`` if it has one, else
  "no such user".
- ``getDomain(slash_w)``: the empty query, a list of who is on; by default the
  factory's ``users()`` if it has one, else refused.
- ``forwardQuery(slash_w, user, hosts)``: ``alice@elsewhere``, a request to pass the
  query on to another host; refused by default, as RFC 1288 recommends (a finger
  server that forwards lets anyone probe hosts behind it).

Each may return text (str or bytes), or a Deferred or coroutine of it. The query
line is parsed by ``parseQuery``, the sans-IO part; a line that is not a finger query
(too long, control characters, binary) gets a one-line error and the connection is
closed, without the methods ever seeing it.

The client: ``finger(reactor, user, host)`` connects, sends the query and fires with
the answer as text (at most ``FingerClient.MAX_LENGTH`` bytes of it). Debian's
``finger`` program talks to the server as it does to any other (see
docs/protocols.md).
Tests: tests/protocols/test_finger.py.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from torsion.internet import protocol
from torsion.internet.defer import Deferred, maybeDeferred
from torsion.internet.error import ConnectionDone
from torsion.logger import Logger
from torsion.protocols import basic
from torsion.python.failure import Failure

__all__ = [
    "Finger",
    "FingerClient",
    "FingerFactory",
    "FingerQuery",
    "FingerQueryError",
    "finger",
    "formatQuery",
    "parseQuery",
]

_log = Logger()

# What a user name or host name in a query may be made of: printable ASCII but
# space and "@" (RFC 1288 leaves names to the host; this is what real ones use).
_NAME = re.compile(rb"[!-?A-~]+")


class FingerQueryError(ValueError):
    """A line is not a finger query (RFC 1288, section 2.3)."""


class FingerQuery:
    """A parsed finger query: ``/W alice@host1@host2`` is verbose, "alice", (host1, host2).

    Attributes:
        verbose: the query began with ``/W`` (the "whois" switch: tell more).
        user: the user asked about; "" for the list of users on.
        hosts: the hosts to forward the query through, in order; () for none.
    """

    __slots__ = ("hosts", "user", "verbose")

    def __init__(self, verbose: bool, user: str, hosts: tuple[str, ...] = ()) -> None:
        self.verbose = verbose
        self.user = user
        self.hosts = hosts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FingerQuery):
            return NotImplemented
        return (self.verbose, self.user, self.hosts) == (other.verbose, other.user, other.hosts)

    def __hash__(self) -> int:
        return hash((self.verbose, self.user, self.hosts))

    def __repr__(self) -> str:
        return f"FingerQuery(verbose={self.verbose}, user={self.user!r}, hosts={self.hosts!r})"


def parseQuery(line: bytes) -> FingerQuery:
    """Parse one query line (without its CRLF).

    Accepts the forms of RFC 1288: ``""``, ``"alice"``, ``"/W"``, ``"/W alice"``,
    ``"alice@host"``, ``"@host"``, ``"/W alice@h1@h2"``; blanks around the parts are
    tolerated (some clients send ``/W  alice``), and so is a lowercase ``/w``.

    Raises:
        FingerQueryError: the line is something else; the message says what.
    """
    text = line.strip(b" \t")
    verbose = False
    if text[:2] in (b"/W", b"/w") and (len(text) == 2 or text[2:3] in (b" ", b"\t")):
        verbose = True
        text = text[2:].lstrip(b" \t")
    if not text:
        return FingerQuery(verbose, "")
    if not _NAME.fullmatch(text.replace(b"@", b"!")):
        raise FingerQueryError(
            "a finger query is [/W] [user][@host...]: printable characters without "
            "spaces, such as 'alice' or '/W alice'"
        )
    user, *hosts = text.split(b"@")
    if any(not host for host in hosts):
        raise FingerQueryError("a finger query has an empty host name after '@'")
    return FingerQuery(verbose, user.decode("ascii"), tuple(h.decode("ascii") for h in hosts))


def formatQuery(user: str = "", verbose: bool = False, hosts: Iterable[str] = ()) -> bytes:
    """Return the query line (with its CRLF) that asks ``hosts`` (if any) about ``user``.

    Raises:
        ValueError: a name holds a space, an "@" or a character that is not printable
            ASCII (it could not be sent in a query).
    """
    hosts = tuple(hosts)
    for name in (user, *hosts):
        if name and not (name.isascii() and _NAME.fullmatch(name.encode("ascii"))):
            raise ValueError(
                f"{name!r} cannot be sent in a finger query (printable ASCII without "
                f"spaces or '@' only)"
            )
    if any(not host for host in hosts):
        raise ValueError("a host name to forward through is empty")
    text = "@".join((user, *hosts))
    if verbose:
        text = "/W " + text if text else "/W"
    return text.encode("ascii") + b"\r\n"


def _asBytes(answer: object) -> bytes:
    if isinstance(answer, str):
        answer = answer.encode("utf-8")
    if not isinstance(answer, bytes | bytearray):
        raise TypeError(f"a finger answer must be text, not {type(answer).__name__}")
    data = bytes(answer).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class Finger(basic.LineReceiver):
    """The server side of finger: one query, one answer, then the connection closes.

    Override ``getUser``, ``getDomain`` and ``forwardQuery``, or give a
    ``FingerFactory`` a database. A client that sends nothing within ``timeOut``
    seconds is disconnected.
    """

    MAX_LENGTH = 1024
    timeOut = 30.0
    _answered = False
    _timer: Any = None

    def connectionMade(self) -> None:
        """Start the idle timer."""
        reactor: Any = getattr(self.factory, "reactor", None)
        if reactor is None:
            from torsion.internet import reactor
        self._timer = reactor.callLater(self.timeOut, self._idle)

    def _idle(self) -> None:
        self._timer = None
        self._finish(b"finger: no query received in time\r\n")

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        """Stop the idle timer."""
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def lineLengthExceeded(self, line: bytes) -> None:
        """Answer an overlong query with an error instead of dropping the connection."""
        self._finish(b"finger: query too long\r\n")

    def lineReceived(self, line: bytes) -> None:
        """Parse the query and answer it."""
        if self._answered:
            return
        self._answered = True
        self.setRawMode()
        try:
            query = parseQuery(line)
        except FingerQueryError as e:
            self._finish(f"finger: {e}\r\n".encode())
            return
        if query.hosts:
            answer = maybeDeferred(
                self.forwardQuery, query.verbose, query.user.encode(), query.hosts
            )
        elif query.user:
            answer = maybeDeferred(self.getUser, query.verbose, query.user.encode())
        else:
            answer = maybeDeferred(self.getDomain, query.verbose)
        answer.addCallback(_asBytes)
        answer.addErrback(self._failed)
        answer.addCallback(self._finish)

    def rawDataReceived(self, data: bytes) -> None:
        """Ignore anything sent after the query."""

    def _failed(self, reason: Failure) -> bytes:
        _log.failure("finger: answering a query failed", reason)
        return b"finger: internal error\r\n"

    def _finish(self, answer: bytes) -> None:
        self._answered = True
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        if self.transport is not None and not self.transport.disconnecting:
            self.transport.write(answer)
            self.transport.loseConnection()

    # -- what to answer ------------------------------------------------------------

    def getUser(self, slash_w: bool, user: bytes) -> Any:
        """Answer a query about ``user``; ``slash_w`` asks for the verbose form.

        By default, the factory's ``database(user, verbose)`` (text, or None for no
        such user), or "no such user" without one.
        """
        database = getattr(self.factory, "database", None)
        name = user.decode("ascii")
        if database is None:
            return f"Login: {name}\nNo such user."

        def noneIsNoSuchUser(result: Any) -> Any:
            return f"Login: {name}\nNo such user." if result is None else result

        return maybeDeferred(database, name, slash_w).addCallback(noneIsNoSuchUser)

    def getDomain(self, slash_w: bool) -> Any:
        """Answer the empty query (who is on): the factory's ``users()``, or refuse."""
        users = getattr(self.factory, "users", None)
        if users is None:
            return "Finger online list denied."
        listed = maybeDeferred(users)
        return listed.addCallback(lambda names: "\n".join(names) if names else "No one logged on.")

    def forwardQuery(self, slash_w: bool, user: bytes, hosts: tuple[str, ...]) -> Any:
        """Refuse to pass a query on to other hosts (RFC 1288 allows, and advises, it)."""
        return "Finger forwarding service denied."


UserDatabase = Callable[[str, bool], "str | bytes | Awaitable[Any] | Deferred[Any] | None"]


class FingerFactory(protocol.ServerFactory):
    """Builds Finger servers that answer from ``database`` (and list ``users``).

    Args:
        database: ``database(user, verbose)`` returns what to say about ``user`` (text,
            None for no such user, or a Deferred or coroutine of either).
        users: ``users()`` returns the names to list for the empty query; without it,
            that query is refused.
        reactor: the reactor for the idle timers; None for the global one.
    """

    protocol = Finger

    def __init__(
        self,
        database: UserDatabase | None = None,
        users: Callable[[], Any] | None = None,
        reactor: Any = None,
    ) -> None:
        self.database = database
        self.users = users
        self.reactor = reactor


class FingerClient(protocol.Protocol):
    """Sends one query and collects the answer until the server closes.

    ``deferred`` fires with the answer as bytes, or fails if the connection is lost
    uncleanly or the answer grows past ``MAX_LENGTH``.
    """

    MAX_LENGTH = 1 << 20

    def __init__(self, query: bytes) -> None:
        self.query = query
        self.deferred: Deferred[bytes] = Deferred()
        self._chunks: list[bytes] = []
        self._size = 0
        self._done = False

    def connectionMade(self) -> None:
        """Send the query."""
        self.transport.write(self.query)

    def dataReceived(self, data: bytes) -> None:
        """Keep the answer, up to MAX_LENGTH bytes."""
        self._size += len(data)
        if self._done:
            return
        if self._size > self.MAX_LENGTH:
            self.transport.abortConnection()
            self._fire(
                Failure(
                    ValueError(
                        f"the finger answer is longer than {self.MAX_LENGTH} bytes; raise "
                        f"FingerClient.MAX_LENGTH to accept it"
                    )
                )
            )
            return
        self._chunks.append(data)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        """Fire with the answer (the server closes once it has answered)."""
        if not isinstance(reason, Failure):
            reason = Failure(reason)
        if reason.check(ConnectionDone):
            self._fire(b"".join(self._chunks))
        else:
            self._fire(reason)

    def _fire(self, result: bytes | Failure) -> None:
        if self._done:
            return
        self._done = True
        if isinstance(result, Failure):
            self.deferred.errback(result)
        else:
            self.deferred.callback(result)


def finger(
    reactor: Any,
    user: str = "",
    host: str = "127.0.0.1",
    port: int = 79,
    verbose: bool = False,
    timeout: float = 30,
) -> Deferred[str]:
    """Ask the finger server at ``host``:``port`` about ``user``; fire with the answer.

    The answer is decoded as UTF-8 (bytes that are not become U+FFFD) with CRLF
    turned into newlines. ``user`` may be ``"alice@otherhost"`` to ask the server to
    forward the query (most refuse).

    Raises:
        ValueError: ``user`` cannot be sent in a query.
    """
    name, *hosts = user.split("@") if user else [""]
    client = FingerClient(formatQuery(name, verbose, hosts))
    connecting = protocol.ClientCreator(reactor, lambda: client).connectTCP(
        host, port, timeout=timeout
    )

    def connected(_: Any) -> Deferred[bytes]:
        return client.deferred

    answer = connecting.addCallback(connected)
    return answer.addCallback(lambda data: data.decode("utf-8", "replace").replace("\r\n", "\n"))
