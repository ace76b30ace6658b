"""The FTP client (torsion.protocols.ftp.FTPClient): commands, passive transfers, listings.

``FTPClient`` is a Protocol for the control connection. It logs in when connected and
runs what it is asked one job at a time: ``queueStringCommand`` sends a command and
fires with the reply's lines; ``retrieveFile``/``list``/``nlst`` open a passive data
connection (EPSV, or PASV when the server knows no EPSV) to the control
connection's peer, send the command, and feed the data to a Protocol of yours;
``storeFile`` gives an IFinishableConsumer to write the upload to (register a
producer on it to stream a file). A refused command fails its Deferred with
CommandFailed holding the reply's lines. ``FTPFileListProtocol`` parses ``ls -l``
lines into dicts.
Tests: tests/protocols/test_ftpclient.py.
"""

from __future__ import annotations

import builtins
import re
from collections import deque
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.internet import defer, error
from torsion.internet.interfaces import IConsumer
from torsion.internet.protocol import ClientFactory, Protocol, connectionDone
from torsion.protocols import _ftpcodec as codec
from torsion.protocols._starttls import startTLS
from torsion.protocols.basic import LineReceiver
from torsion.python.failure import Failure

__all__ = [
    "CommandFailed",
    "ConnectionLost",
    "FTPClient",
    "FTPFileListProtocol",
    "IFinishableConsumer",
]


class CommandFailed(Exception):
    """The server refused a command; ``args[0]`` is the reply's lines (with codes)."""


class ConnectionLost(Exception):
    """The control connection closed before the command was answered."""


class IFinishableConsumer(IConsumer):
    """A consumer that is told when no more data will come."""

    def finish() -> None:
        """The data is complete (the upload's data connection closes)."""


def _lines(reply: codec.Reply) -> list[str]:
    return [f"{reply.code} {line}" for line in reply.lines]


class _DataProtocol(Protocol):
    """The client's end of a data connection: passes the data to the user's protocol."""

    def __init__(self, target: Protocol | None, tlsOptions: Any = None) -> None:
        self.target = target
        self.tlsOptions = tlsOptions
        self.connected_: defer.Deferred[_DataProtocol] = defer.Deferred()
        self.done: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        if self.tlsOptions is not None:
            startTLS(self.transport, self.tlsOptions)  # PROT P: the TLS client side
        if self.target is not None:
            self.target.makeConnection(self.transport)
        self.connected_.callback(self)

    def dataReceived(self, data: bytes) -> None:
        if self.target is not None:
            self.target.dataReceived(data)

    def connectionLost(self, reason: Any = connectionDone) -> None:
        if self.target is not None:
            self.target.connectionLost(reason)
        if reason.check(error.ConnectionDone):
            self.done.callback(None)
        else:
            self.done.errback(reason)


class _DataFactory(ClientFactory):
    def __init__(self, dataProtocol: _DataProtocol) -> None:
        self.dataProtocol = dataProtocol

    def buildProtocol(self, addr: Any) -> _DataProtocol:
        return self.dataProtocol

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.dataProtocol.connected_.errback(reason)


@implementer(IFinishableConsumer)
class _UploadConsumer:
    """What ``storeFile`` gives: the data connection as an IFinishableConsumer."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()

    def finish(self) -> None:
        self.transport.loseConnection()


class FTPClient(Protocol):
    """An FTP client: logs in as ``username`` once connected, then runs your commands.

    Only passive data connections are made (``passive`` is kept for Twisted's
    signature; False is refused). The data connections go to the control
    connection's peer, whatever address the server's PASV reply names.

    With ``tlsOptions`` (``optionsForClientTLS(hostname, ...)`` from
    torsion.internet.ssl: the server's certificate is checked) the client sends
    AUTH TLS before logging in, then PBSZ 0 and PROT P, so the password, the
    commands and every data connection are encrypted; a server without TLS fails
    the login.
    """

    def __init__(
        self,
        username: str = "anonymous",
        password: str = "torsion@",
        passive: bool | int = True,
        reactor: Any = None,
        tlsOptions: Any = None,
    ) -> None:
        if not passive:
            raise ValueError("FTPClient makes passive data connections only")
        self.reactor = reactor
        self.tlsOptions = tlsOptions
        self._parser = codec.ReplyParser()
        self._jobs: deque[tuple[Callable[[], defer.Deferred[Any]], defer.Deferred[Any]]] = deque()
        self._running = False
        self._waiting: defer.Deferred[list[codec.Reply]] | None = None
        self._gotten: list[codec.Reply] = []
        self._greeted: defer.Deferred[list[str]] = defer.Deferred()
        self._lost: Failure | None = None
        self._epsv = True
        self.greeting: list[str] | None = None
        self.queueLogin(username, password)

    # -- the control connection -------------------------------------------------------

    def connectionMade(self) -> None:
        self._waiting = defer.Deferred()
        self._waiting.addCallbacks(self._gotGreeting, self._greeted.errback)

    def _gotGreeting(self, replies: list[codec.Reply]) -> None:
        self.greeting = _lines(replies[-1])
        if replies[-1].code != 220:
            self._greeted.errback(CommandFailed(self.greeting))
            self.transport.loseConnection()
        else:
            self._greeted.callback(self.greeting)
            self._runNext()

    def dataReceived(self, data: bytes) -> None:
        try:
            replies = self._parser.feed(data)
        except ValueError as e:
            self._lost = Failure(ConnectionLost(f"the server sent a malformed reply: {e}"))
            self.transport.loseConnection()
            return
        for reply in replies:
            self._gotten.append(reply)
            if 100 <= reply.code < 200:
                continue
            waiting, self._waiting = self._waiting, None
            gotten, self._gotten = self._gotten, []
            if waiting is not None:
                waiting.callback(gotten)

    def connectionLost(self, reason: Any = connectionDone) -> None:
        lost = self._lost or Failure(
            ConnectionLost(f"the control connection closed: {reason.value}")
        )
        self._lost = lost
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.errback(lost)
        jobs, self._jobs = self._jobs, deque()
        for _, d in jobs:
            d.errback(lost)

    def _send(self, line: str) -> defer.Deferred[list[codec.Reply]]:
        """Send one command line; fires with its replies (the preliminary ones first)."""
        if self._lost is not None:
            return defer.fail(self._lost)
        if "\r" in line or "\n" in line:
            return defer.fail(ValueError(f"a command cannot hold a line break: {line!r}"))
        self._waiting = defer.Deferred()
        self.transport.write(line.encode("utf-8", "surrogateescape") + b"\r\n")
        return self._waiting

    @staticmethod
    def _checked(replies: list[codec.Reply]) -> list[str]:
        final = replies[-1]
        lines = [line for reply in replies for line in _lines(reply)]
        if final.code >= 400:
            raise CommandFailed(lines)
        return lines

    # -- jobs -------------------------------------------------------------------------

    def _queue(self, job: Callable[[], defer.Deferred[Any]]) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()
        if self._lost is not None:
            d.errback(self._lost)
            return d
        self._jobs.append((job, d))
        if self.greeting is not None:
            self._runNext()
        return d

    def _runNext(self) -> None:
        if self._running or not self._jobs:
            return
        job, d = self._jobs.popleft()
        self._running = True

        def finished(result: object) -> None:
            self._running = False
            d.callback(result) if not isinstance(result, Failure) else d.errback(result)
            self._runNext()

        defer.maybeDeferred(job).addBoth(finished)

    def queueStringCommand(self, command: str, public: int = 1) -> defer.Deferred[list[str]]:
        """Send ``command``; fires with the reply's lines, or fails with CommandFailed."""
        return self._queue(lambda: self._send(command).addCallback(self._checked))

    def queueLogin(self, username: str, password: str) -> None:
        """Log in (queued first by the constructor) and switch to TYPE I."""

        def login() -> defer.Deferred[list[str]]:
            def needPassword(replies: list[codec.Reply]) -> Any:
                if replies[-1].code == 331:
                    return self._send(f"PASS {password}").addCallback(self._checked)
                return self._checked(replies)

            d: defer.Deferred[Any]
            if self.tlsOptions is not None:
                d = self._send("AUTH TLS").addCallback(self._startTLS)
                d.addCallback(self._sendNext, f"USER {username}")
            else:
                d = self._send(f"USER {username}")
            d.addCallback(needPassword)
            if self.tlsOptions is not None:
                d.addCallback(self._sendNext, "PBSZ 0").addCallback(self._checked)
                d.addCallback(self._sendNext, "PROT P").addCallback(self._checked)
            return d.addCallback(self._sendNext, "TYPE I").addCallback(self._checked)

        self._queue(login).addErrback(self._loginFailed)

    def _startTLS(self, replies: list[codec.Reply]) -> None:
        if replies[-1].code != 234:
            lines = [line for reply in replies for line in _lines(reply)]
            raise CommandFailed([*lines, "TLS was asked for and the server refused AUTH TLS"])
        startTLS(self.transport, self.tlsOptions)

    def _loginFailed(self, failure: Failure) -> None:
        self._lost = failure
        jobs, self._jobs = self._jobs, deque()
        for _, d in jobs:
            d.errback(failure)
        if self.transport is not None:
            self.transport.loseConnection()

    # -- transfers --------------------------------------------------------------------

    def _reactor(self) -> Any:
        """The reactor given, else the control connection's, else the installed one."""
        if self.reactor is not None:
            return self.reactor
        transportReactor = getattr(self.transport, "reactor", None)
        if transportReactor is not None:
            return transportReactor
        from torsion.internet import reactor

        return reactor

    def _openPassive(self, dataProtocol: _DataProtocol) -> defer.Deferred[Any]:
        host = self.transport.getPeer().host

        def connect(port: int) -> defer.Deferred[_DataProtocol]:
            self._reactor().connectTCP(host, port, _DataFactory(dataProtocol), timeout=30)
            return dataProtocol.connected_

        def viaPASV(_: object = None) -> defer.Deferred[Any]:
            d = self._send("PASV").addCallback(self._checked)
            return d.addCallback(lambda lines: codec.decodePASVReply(lines[-1])[1])

        if not self._epsv:
            return viaPASV().addCallback(connect)

        def epsvAnswered(replies: list[codec.Reply]) -> Any:
            if replies[-1].code == 229:
                return codec.decodeEPSVReply(replies[-1].text)
            self._epsv = False
            return viaPASV()

        return self._send("EPSV").addCallback(epsvAnswered).addCallback(connect)

    def _transfer(
        self, commands: list[str], target: Protocol | None, uploading: defer.Deferred[Any] | None
    ) -> defer.Deferred[list[str]]:
        dataProtocol = _DataProtocol(target, self.tlsOptions)

        def job() -> defer.Deferred[list[str]]:
            def connected(_: object) -> defer.Deferred[list[str]]:
                sent = self._sendAll(commands)
                if uploading is not None:
                    uploading.callback(_UploadConsumer(dataProtocol.transport))
                both: defer.Deferred[Any] = defer.gatherResults(
                    [sent, dataProtocol.done], consumeErrors=True
                )

                def refused(failure: Failure) -> Failure:
                    if dataProtocol.transport is not None:
                        dataProtocol.transport.abortConnection()
                    return _firstError(failure)

                return both.addCallbacks(lambda results: results[0], refused)

            return self._openPassive(dataProtocol).addCallback(connected)

        d = self._queue(job)
        if uploading is not None:

            def notUploading(failure: Failure) -> Failure:
                if not uploading.called:
                    uploading.errback(failure)
                return failure

            d.addErrback(notUploading)
        return d

    def _sendAll(self, commands: list[str]) -> defer.Deferred[list[str]]:
        """Send each command after the last one's reply; the last one's lines."""
        d: defer.Deferred[Any] = self._send(commands[0]).addCallback(self._checked)
        for command in commands[1:]:
            d.addCallback(self._sendNext, command).addCallback(self._checked)
        return d

    def _sendNext(self, _: object, command: str) -> defer.Deferred[list[codec.Reply]]:
        return self._send(command)

    def retrieveFile(
        self, path: str, protocol: Protocol, offset: int = 0
    ) -> defer.Deferred[list[str]]:
        """Download ``path`` into ``protocol`` (its dataReceived gets the bytes).

        Fires with the final reply's lines once the file is all received.
        """
        commands = ([f"REST {offset}"] if offset else []) + [f"RETR {path}"]
        return self._transfer(commands, protocol, None)

    retr = retrieveFile

    def storeFile(
        self, path: str, offset: int = 0
    ) -> tuple[defer.Deferred[IFinishableConsumer], defer.Deferred[list[str]]]:
        """Upload to ``path``: (a Deferred of the consumer to write to and then
        ``finish()``, a Deferred of the final reply's lines)."""
        consumer: defer.Deferred[IFinishableConsumer] = defer.Deferred()
        commands = ([f"REST {offset}"] if offset else []) + [f"STOR {path}"]
        return consumer, self._transfer(commands, None, consumer)

    stor = storeFile

    def list(self, path: str, protocol: Protocol) -> defer.Deferred[builtins.list[str]]:
        """LIST ``path`` into ``protocol`` (an FTPFileListProtocol parses the lines)."""
        return self._transfer([f"LIST {path}" if path else "LIST"], protocol, None)

    def nlst(self, path: str, protocol: Protocol) -> defer.Deferred[builtins.list[str]]:
        """NLST ``path``: the bare names, one a line, into ``protocol``."""
        return self._transfer([f"NLST {path}" if path else "NLST"], protocol, None)

    # -- simple commands ----------------------------------------------------------------

    def pwd(self) -> defer.Deferred[builtins.list[str]]:
        return self.queueStringCommand("PWD")

    def cwd(self, path: str) -> defer.Deferred[builtins.list[str]]:
        return self.queueStringCommand(f"CWD {path}")

    def cdup(self) -> defer.Deferred[builtins.list[str]]:
        return self.queueStringCommand("CDUP")

    def makeDirectory(self, path: str) -> defer.Deferred[builtins.list[str]]:
        return self.queueStringCommand(f"MKD {path}")

    def removeDirectory(self, path: str) -> defer.Deferred[builtins.list[str]]:
        return self.queueStringCommand(f"RMD {path}")

    def removeFile(self, path: str) -> defer.Deferred[builtins.list[str]]:
        return self.queueStringCommand(f"DELE {path}")

    def rename(self, pathFrom: str, pathTo: str) -> defer.Deferred[builtins.list[str]]:
        """RNFR then RNTO, as one job (nothing else runs between them)."""
        return self._queue(lambda: self._sendAll([f"RNFR {pathFrom}", f"RNTO {pathTo}"]))

    def quit(self) -> defer.Deferred[builtins.list[str]]:
        return self.queueStringCommand("QUIT")


def _firstError(failure: Failure) -> Failure:
    value = failure.value
    first = getattr(value, "subFailure", None)
    return first if isinstance(first, Failure) else failure


_LIST_LINE = re.compile(
    r"^(?P<filetype>.)(?P<perms>.{9})\s+(?P<nlinks>\d+)\s+(?P<owner>\S+)\s+(?P<group>\S+)"
    r"\s+(?P<size>\d+)\s+(?P<date>\S+\s+\S+\s+\S+)\s+(?P<filename>.+?)"
    r"(?: -> (?P<linktarget>.+))?$"
)


class FTPFileListProtocol(LineReceiver):
    """Parses a LIST reply's ``ls -l`` lines: ``files`` is a list of dicts with
    filetype, perms, nlinks, owner, group, size, date, filename, linktarget;
    lines it cannot read go to ``unknownLine``."""

    delimiter = b"\n"
    MAX_LENGTH = codec.MAX_LINE

    def __init__(self) -> None:
        self.files: builtins.list[dict[str, Any]] = []

    def lineReceived(self, line: bytes) -> None:
        text = line.rstrip(b"\r").decode("utf-8", "surrogateescape")
        match = _LIST_LINE.match(text)
        if match is None:
            self.unknownLine(text)
            return
        entry: dict[str, Any] = match.groupdict()
        entry["nlinks"] = int(entry["nlinks"])
        entry["size"] = int(entry["size"])
        self.files.append(entry)

    def unknownLine(self, line: str) -> None:
        """A line that is not an ``ls -l`` entry ("total 12", say): ignored."""
