"""Ident (RFC 1413): who owns a TCP connection. A server with a lookup hook, and a client.

A query names a connection by its two ports, ``6191, 23``: the port on the ident
server's host, then the port on the asking host. The server answers
``6191 , 23 : USERID : UNIX : alice`` or ``6191 , 23 : ERROR : NO-USER``.

- ``IdentServer`` answers each query line with ``lookup(serverAddress,
  clientAddress)``, where the addresses are ``(host, port)`` pairs: the server's own
  host with the first port, the asking peer's host with the second. ``lookup``
  returns ``(system, user)`` (or a Deferred or coroutine of it) or raises one of
  ``NoUser``, ``InvalidPort``, ``HiddenUser`` or ``IdentError``, which are sent as
  the RFC's error names. The default lookup (``ProcServerMixin``) finds the
  connection in the kernel's table (``/proc/net/tcp`` and ``tcp6``, Linux) and
  answers with its owner's login name, so it works for connections of this host.
  Override ``lookup`` to answer otherwise, or raise ``HiddenUser`` to say nothing.
- ``IdentClient`` sends queries over one connection; ``lookup(portOnServer,
  portOnClient)`` returns a Deferred that fires with ``(system, user)`` or fails with
  the error the server gave. ``identify(reactor, host, portOnServer, portOnClient)``
  connects, asks once and disconnects.

``parseRequest``, ``formatResponse`` and ``parseResponse`` are the sans-IO parts.
Tests: tests/protocols/test_ident.py.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import socket
import struct
from collections import deque
from typing import Any

from torsion.internet import protocol
from torsion.internet.defer import Deferred, maybeDeferred
from torsion.internet.error import ConnectionLost
from torsion.logger import Logger
from torsion.protocols import basic
from torsion.python.failure import Failure

__all__ = [
    "HiddenUser",
    "IdentClient",
    "IdentError",
    "IdentServer",
    "InvalidPort",
    "NoUser",
    "ProcServerMixin",
    "formatResponse",
    "identify",
    "parseRequest",
    "parseResponse",
]

_log = Logger()


class IdentError(Exception):
    """The ident lookup failed for a reason it does not say (RFC 1413's UNKNOWN-ERROR)."""

    identDescription = "UNKNOWN-ERROR"

    def __str__(self) -> str:
        detail = super().__str__()
        return f"{self.identDescription}: {detail}" if detail else self.identDescription


class NoUser(IdentError):
    """The connection is not known, or not owned by any user (NO-USER)."""

    identDescription = "NO-USER"


class InvalidPort(IdentError):
    """A port in the query is not a port number (INVALID-PORT)."""

    identDescription = "INVALID-PORT"


class HiddenUser(IdentError):
    """The owner asked not to be named (HIDDEN-USER)."""

    identDescription = "HIDDEN-USER"


_ERRORS: dict[str, type[IdentError]] = {
    cls.identDescription: cls for cls in (IdentError, NoUser, InvalidPort, HiddenUser)
}


def _port(text: bytes) -> int:
    text = text.strip(b" \t")
    if not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= 65535:
        raise InvalidPort(f"{text[:20]!r} is not a port from 1 to 65535")
    return int(text)


def parseRequest(line: bytes) -> tuple[int, int]:
    """Parse a query line (without its CRLF): ``b"6191, 23"`` gives ``(6191, 23)``.

    Raises:
        InvalidPort: the line is not two ports separated by a comma.
    """
    parts = line.split(b",")
    if len(parts) != 2:
        raise InvalidPort("an ident query is two ports separated by a comma, such as '6191, 23'")
    return _port(parts[0]), _port(parts[1])


def formatResponse(
    portOnServer: int, portOnClient: int, result: tuple[str, str] | IdentError
) -> bytes:
    """Return the response line (with CRLF) for a query and its result or error."""
    head = f"{portOnServer} , {portOnClient} : "
    if isinstance(result, IdentError):
        return f"{head}ERROR : {result.identDescription}\r\n".encode("ascii")
    system, user = result
    for text, what in ((system, "system"), (user, "user")):
        if any(c in text for c in ":\r\n\0") or not text:
            raise ValueError(f"the {what} {text!r} cannot be sent in an ident response")
    return f"{head}USERID : {system} : {user}\r\n".encode()


def parseResponse(line: bytes) -> tuple[int, int, tuple[str, str] | IdentError]:
    """Parse a response line: the two ports and ``(system, user)``, or the error.

    The user id is everything after the third colon (RFC 1413 allows colons and
    spaces in it); unknown error names become IdentError.

    Raises:
        ValueError: the line is not an ident response.
    """
    parts = line.split(b":", 3)
    if len(parts) < 3:
        raise ValueError(f"{line[:80]!r} is not an ident response")
    try:
        portOnServer, portOnClient = parseRequest(parts[0])
    except InvalidPort:
        raise ValueError(f"{line[:80]!r} is not an ident response (bad ports)") from None
    kind = parts[1].strip().upper()
    if kind == b"ERROR":
        name = b":".join(parts[2:]).strip().decode("ascii", "replace").upper()
        return portOnServer, portOnClient, _ERRORS.get(name, IdentError)()
    if kind == b"USERID" and len(parts) == 4:
        system = parts[2].split(b",", 1)[0].strip().decode("ascii", "replace")
        user = parts[3].lstrip(b" ").decode("utf-8", "replace")
        return portOnServer, portOnClient, (system, user)
    raise ValueError(f"{line[:80]!r} is not an ident response")


# -- the process table -------------------------------------------------------------------

_PROC_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def _procAddress(text: str) -> tuple[str, int]:
    """Decode a /proc/net/tcp address: hex words in host byte order, then the port."""
    hexHost, hexPort = text.split(":")
    words = [int(hexHost[i : i + 8], 16) for i in range(0, len(hexHost), 8)]
    raw = struct.pack(f"={len(words)}I", *words)
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return _normalHost(socket.inet_ntop(family, raw)), int(hexPort, 16)


def _normalHost(host: str) -> str:
    """An address in one form only: an IPv4 address mapped into IPv6 as IPv4."""
    try:
        parsed = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


class ProcServerMixin:
    """A ``lookup`` that reads the kernel's TCP table (Linux's /proc/net/tcp and tcp6).

    It finds the connection from ``serverAddress`` (this host) to ``clientAddress``
    and answers with the login name of the user who owns its socket.
    """

    SYSTEM_NAME = os.uname().sysname.upper() if hasattr(os, "uname") else "UNKNOWN"
    procTables: tuple[str, ...] = _PROC_TABLES

    def getUsername(self, uid: int) -> str:
        """Return the login name of ``uid`` (or the number, if it has none)."""
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    def entries(self) -> list[tuple[tuple[str, int], tuple[str, int], int]]:
        """Return ``(local, remote, uid)`` for every socket of the tables that has one."""
        found = []
        for path in self.procTables:
            try:
                with open(path) as f:
                    lines = f.readlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) < 10 or fields[9] == "0":  # no inode: TIME_WAIT and such
                    continue
                found.append((_procAddress(fields[1]), _procAddress(fields[2]), int(fields[7])))
        return found

    def lookup(self, serverAddress: tuple[str, int], clientAddress: tuple[str, int]) -> Any:
        """Return ``(SYSTEM_NAME, owner)`` of the connection, or raise NoUser."""
        local = (_normalHost(serverAddress[0]), serverAddress[1])
        remote = (_normalHost(clientAddress[0]), clientAddress[1])
        if not any(os.path.exists(path) for path in self.procTables):
            raise IdentError("this system has no /proc/net/tcp to look connections up in")
        for entryLocal, entryRemote, uid in self.entries():
            if entryLocal == local and entryRemote == remote:
                return (self.SYSTEM_NAME, self.getUsername(uid))
        raise NoUser()


class IdentServer(ProcServerMixin, basic.LineReceiver):
    """The server side of ident: one response line per query line.

    Queries are answered in order, several per connection; at most
    ``maxPendingQueries`` wait for their lookup at once (more are answered
    UNKNOWN-ERROR), and a connection idle for ``timeOut`` seconds is closed
    (RFC 1413 suggests 60 to 180).
    """

    MAX_LENGTH = 1000
    timeOut = 120.0
    maxPendingQueries = 16
    factory: Any = None
    _timer: Any = None
    _pending = 0

    def connectionMade(self) -> None:
        """Start the idle timer."""
        self._reactor: Any = getattr(self.factory, "reactor", None)
        if self._reactor is None:
            from torsion.internet import reactor

            self._reactor = reactor
        self._timer = self._reactor.callLater(self.timeOut, self.transport.loseConnection)
        # One slot per query, filled with its response line once the lookup is done.
        self._answers: deque[list[bytes]] = deque()

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        """Stop the idle timer."""
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def lineLengthExceeded(self, line: bytes) -> None:
        """An overlong line: say the ports are invalid, and close."""
        self.transport.write(formatResponse(0, 0, InvalidPort()))
        self.transport.loseConnection()

    def lineReceived(self, line: bytes) -> None:
        """Parse the query and answer it once its lookup is done (in query order)."""
        if self._timer is not None and self._timer.active():
            self._timer.reset(self.timeOut)
        try:
            portOnServer, portOnClient = parseRequest(line)
        except InvalidPort:
            _log.info(
                "ident: {peer} sent a line that is not a query; closing",
                peer=self.transport.getPeer(),
            )
            self.transport.write(formatResponse(0, 0, InvalidPort()))
            self.transport.loseConnection()
            return
        slot: list[bytes] = []
        self._answers.append(slot)
        if self._pending >= self.maxPendingQueries:
            slot.append(formatResponse(portOnServer, portOnClient, IdentError()))
            self._flush()
            return

        def ready(line: bytes) -> None:
            slot.append(line)
            self._flush()

        self._pending += 1
        self._answer(portOnServer, portOnClient).addCallback(ready)

    def _answer(self, portOnServer: int, portOnClient: int) -> Deferred[bytes]:
        serverAddress = (self.transport.getHost().host, portOnServer)
        clientAddress = (self.transport.getPeer().host, portOnClient)
        looked = maybeDeferred(self.lookup, serverAddress, clientAddress)

        def done(result: Any) -> bytes:
            self._pending -= 1
            if isinstance(result, Failure):
                error = result.value
                if not isinstance(error, IdentError):
                    _log.failure("ident: the lookup failed", result)
                    error = IdentError()
                return formatResponse(portOnServer, portOnClient, error)
            try:
                return formatResponse(portOnServer, portOnClient, tuple(result))
            except (TypeError, ValueError):
                _log.failure("ident: the lookup returned {result!r}", Failure(), result=result)
                return formatResponse(portOnServer, portOnClient, IdentError())

        return looked.addBoth(done)

    def _flush(self) -> None:
        # Answers go out in query order: only those at the head that are ready.
        answers = self._answers
        while answers and answers[0]:
            line = answers.popleft()[0]
            if not self.transport.disconnecting:
                self.transport.write(line)


class IdentClient(basic.LineReceiver):
    """The client side of ident: ``lookup`` queries, answered in order on one connection."""

    MAX_LENGTH = 1000

    def __init__(self) -> None:
        self.queries: deque[tuple[Deferred[tuple[str, str]], int, int]] = deque()

    def lookup(self, portOnServer: int, portOnClient: int) -> Deferred[tuple[str, str]]:
        """Ask who owns the connection between ``portOnServer`` (on the server's host)
        and ``portOnClient`` (on this one).

        Returns:
            A Deferred that fires with ``(system, user)`` or fails with the
            IdentError the server answered (NoUser, HiddenUser, ...), or with
            ConnectionLost if the server goes away first.
        """
        for port in (portOnServer, portOnClient):
            if not 1 <= port <= 65535:
                raise InvalidPort(f"{port} is not a port from 1 to 65535")
        answer: Deferred[tuple[str, str]] = Deferred()
        self.queries.append((answer, portOnServer, portOnClient))
        self.sendLine(b"%d, %d" % (portOnServer, portOnClient))
        return answer

    def lineReceived(self, line: bytes) -> None:
        """Fire the oldest query's Deferred with this response."""
        if not self.queries:
            return
        answer, portOnServer, portOnClient = self.queries.popleft()
        try:
            gotServer, gotClient, result = parseResponse(line)
        except ValueError as e:
            answer.errback(IdentError(str(e)))
            return
        if (gotServer, gotClient) != (portOnServer, portOnClient):
            answer.errback(
                IdentError(
                    f"the server answered about ports {gotServer}, {gotClient} when asked "
                    f"about {portOnServer}, {portOnClient}"
                )
            )
        elif isinstance(result, IdentError):
            answer.errback(result)
        else:
            answer.callback(result)

    def lineLengthExceeded(self, line: bytes) -> None:
        """An overlong response: fail every query and close."""
        self._failAll(IdentError("the ident server sent an overlong line"))
        self.transport.loseConnection()

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        """Fail the queries still waiting."""
        self._failAll(ConnectionLost("the ident server closed the connection before answering"))

    def _failAll(self, error: Exception) -> None:
        while self.queries:
            self.queries.popleft()[0].errback(error)


def identify(
    reactor: Any,
    host: str,
    portOnServer: int,
    portOnClient: int,
    port: int = 113,
    timeout: float = 30,
) -> Deferred[tuple[str, str]]:
    """Ask the ident server of ``host`` who owns a connection; fire with ``(system, user)``.

    For a connection that came in to this host's ``portOnClient`` from ``host``'s
    ``portOnServer``, this is how to ask who made it.
    """
    connecting = protocol.ClientCreator(reactor, IdentClient).connectTCP(
        host, port, timeout=timeout
    )

    def ask(client: IdentClient) -> Deferred[tuple[str, str]]:
        def close(result: Any) -> Any:
            client.transport.loseConnection()
            return result

        return client.lookup(portOnServer, portOnClient).addBoth(close)

    return connecting.addCallback(ask)
