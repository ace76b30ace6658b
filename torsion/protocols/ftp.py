"""FTP: a server (RFC 959, 2228/4217 TLS, 2389 FEAT, 2428, 3659) and a client.

The server is ``FTPFactory(portal)``: each login goes through torsion.cred, and
its avatar is an IFTPShell (``FTPRealm`` gives anonymous users a read-only root and
each account its own home). Every path is resolved inside the user's root and never
follows a symbolic link out of it. Data connections come only from (passive) or go
only to (active) the control connection's peer address, never to a privileged port,
so the server cannot be used to bounce connections elsewhere (FXP) unless
``allowForeignDataAddress`` says so. With ``tlsOptions`` it offers AUTH TLS, and
PROT P encrypts the data connections too. Transfers stream: downloads are read a
chunk at a time as the client takes them, uploads are written as they arrive.

The client is ``FTPClient`` (torsion.protocols._ftpclient), passive mode.
Tests: tests/protocols/test_ftp*.py; docs/ftp.md.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.cred import credentials
from torsion.cred.error import UnauthorizedLogin
from torsion.cred.portal import Portal
from torsion.internet import defer
from torsion.internet.interfaces import IConsumer
from torsion.internet.protocol import Factory, Protocol, connectionDone
from torsion.logger import Logger
from torsion.protocols import _ftpcodec as codec
from torsion.protocols._ftpclient import (
    CommandFailed,
    ConnectionLost,
    FTPClient,
    FTPFileListProtocol,
    IFinishableConsumer,
)
from torsion.protocols._ftpdata import DataChannel, DataConnectionError
from torsion.protocols._ftpshell import (
    BaseFTPRealm,
    FileExistsError,
    FileNotFoundError,
    FTPAnonymousShell,
    FTPCmdError,
    FTPRealm,
    FTPShell,
    IFTPShell,
    IReadFile,
    IsADirectoryError,
    IsNotADirectoryError,
    IWriteFile,
    PermissionDeniedError,
)
from torsion.protocols._starttls import startTLS
from torsion.python.failure import Failure

__all__ = [
    "FTP",
    "BaseFTPRealm",
    "CommandFailed",
    "ConnectionLost",
    "FTPAnonymousShell",
    "FTPClient",
    "FTPCmdError",
    "FTPFactory",
    "FTPFileListProtocol",
    "FTPRealm",
    "FTPShell",
    "FileExistsError",
    "FileNotFoundError",
    "IFTPShell",
    "IFinishableConsumer",
    "IReadFile",
    "IWriteFile",
    "IsADirectoryError",
    "IsNotADirectoryError",
    "PermissionDeniedError",
]

_log = Logger(namespace="torsion.protocols.ftp")

# Commands answered before login.
_BEFORE_LOGIN = frozenset(
    {"USER", "PASS", "QUIT", "FEAT", "SYST", "NOOP", "AUTH", "PBSZ", "PROT", "HELP", "OPTS"}
)
# Commands answered while a transfer runs (the others wait for it).
_DURING_TRANSFER = frozenset({"ABOR", "STAT"})
_MAX_QUEUED = 32
ASCII_SIZE_LIMIT = 16 * 2**20
"""The largest file whose TYPE A size SIZE counts (it reads the file to do so)."""
_MAX_FAILED_LOGINS = 3
_ALIASES = {"XPWD": "PWD", "XCWD": "CWD", "XCUP": "CDUP", "XMKD": "MKD", "XRMD": "RMD"}
_MLST_FACTS = "type*;size*;modify*;UNIX.mode*;"


class FTP(Protocol):
    """One control connection of the FTP server (made by FTPFactory)."""

    factory: FTPFactory

    def __init__(self) -> None:
        self._parser = codec.CommandParser()
        self._queue: deque[codec.Command] = deque()
        self._busy = False
        self._transferring = False
        self._paused = False
        self.shell: Any = None
        self._logout: Callable[[], object] | None = None
        self.workingDirectory: list[str] = []
        self._user: str | None = None
        self._failedLogins = 0
        self.binary = False
        self._restart = 0
        self._renameFrom: list[str] | None = None
        self._epsvAll = False
        self._aborting = False
        self._tls = False
        self._pbsz = False
        self._protect = False
        self.data: DataChannel | None = None
        self._idleTimer: Any = None
        self._closed = False

    # -- connection -------------------------------------------------------------------

    @property
    def reactor(self) -> Any:
        return self.factory.reactor

    def connectionMade(self) -> None:
        # Clients send ABOR's last byte as TCP urgent data (RFC 959 section 4.1.3's
        # Synch): read it in line, or the command never ends.
        handle = getattr(self.transport, "getHandle", lambda: None)()
        if isinstance(handle, socket.socket):
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
        self.data = DataChannel(self.reactor, self.transport.getPeer().host)
        self.data.timeout = self.factory.dataTimeout
        self._resetIdle()
        self.reply(220, self.factory.welcomeMessage)

    def connectionLost(self, reason: Any = connectionDone) -> None:
        self._closed = True
        if self._idleTimer is not None and self._idleTimer.active():
            self._idleTimer.cancel()
        if self.data is not None:
            self.data.reset()
        self._logoutNow()

    def _logoutNow(self) -> None:
        logout, self._logout = self._logout, None
        self.shell = None
        if logout is not None:
            logout()

    def _resetIdle(self) -> None:
        if self.factory.timeOut is None:
            return
        if self._idleTimer is not None and self._idleTimer.active():
            self._idleTimer.cancel()
        self._idleTimer = self.reactor.callLater(self.factory.timeOut, self._idle)

    def _idle(self) -> None:
        if self._transferring:
            self._resetIdle()
            return
        self.reply(421, "Timeout: closing the control connection.")
        self.transport.loseConnection()

    def reply(self, code: int, text: str) -> None:
        if not self._closed:
            self.transport.write(codec.formatReply(code, text))

    # -- commands ---------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self._resetIdle()
        try:
            commands = self._parser.feed(data)
        except codec.LineTooLong as e:
            self.reply(500, f"Command line too long ({e}); closing.")
            self.transport.loseConnection()
            return
        for command in commands:
            if command.name in _DURING_TRANSFER and self._transferring:
                self._run(command)
            else:
                self._queue.append(command)
        if len(self._queue) > _MAX_QUEUED and not self._paused:
            self._paused = True
            self.transport.pauseProducing()
        self._next()

    def _next(self) -> None:
        while self._queue and not self._busy and not self._transferring and not self._closed:
            self._run(self._queue.popleft())
        if self._paused and not self._queue:
            self._paused = False
            self.transport.resumeProducing()

    def _run(self, command: codec.Command) -> None:
        name = _ALIASES.get(command.name, command.name)
        handler = getattr(self, "ftp_" + name, None)
        if handler is None or not name.isalpha():
            self.reply(502, f"Command {command.name[:20]!r} not implemented.")
            return
        if self.shell is None and name not in _BEFORE_LOGIN:
            self.reply(530, "Please log in with USER and PASS first.")
            return
        if name not in ("RNFR", "RNTO"):
            self._renameFrom = None
        if name not in ("RETR", "STOR", "APPE", "REST"):
            self._restart = 0
        self._busy = True
        try:
            result = handler(command.argument)
        except Exception:
            self._failed(Failure())
            return
        if isinstance(result, defer.Deferred):
            result.addErrback(self._failed)
            result.addBoth(self._done)
        else:
            self._done(None)

    def _done(self, _: object) -> None:
        self._busy = False
        self._next()

    def _failed(self, failure: Failure) -> None:
        problem = failure.value
        if isinstance(problem, FTPCmdError):
            self.reply(*problem.response())
        elif isinstance(problem, codec.InvalidPath):
            self.reply(550, f"Permission denied: {problem}.")
        elif isinstance(problem, codec.BadArgument):
            self.reply(501, f"Syntax error in the argument: {problem}.")
        elif isinstance(problem, DataConnectionError):
            self.reply(425, f"Cannot open the data connection: {problem}.")
        else:
            _log.failure("an FTP command failed", failure)
            self.reply(451, "Local error in processing; the server goes on.")
        self._answerAbort()
        self._done(None)

    def _answerAbort(self) -> None:
        # ABOR's own 226 comes after the aborted transfer's reply (RFC 959 section 4.1.3).
        if self._aborting:
            self._aborting = False
            self.reply(226, "ABOR ok.")

    def _path(self, argument: str) -> list[str]:
        return codec.toSegments(self.workingDirectory, argument)

    def _show(self, segments: list[str]) -> str:
        return ("/" + "/".join(segments)).replace('"', '""')

    # -- login ------------------------------------------------------------------------

    def ftp_USER(self, name: str) -> None:
        if not name:
            raise codec.BadArgument("USER needs a user name")
        if self.factory.requireTLS and not self._tls:
            self.reply(530, "TLS is required here: send AUTH TLS first.")
            return
        if self.shell is not None:
            self._logoutNow()
        self._user = name
        if self._anonymous(name):
            self.reply(331, "Guest login ok, send your e-mail address as password.")
        else:
            self.reply(331, f"Password required for {name}.")

    def _anonymous(self, name: str) -> bool:
        return self.factory.allowAnonymous and name.lower() in (
            self.factory.userAnonymous.lower(),
            "ftp",
        )

    def ftp_PASS(self, password: str) -> defer.Deferred[None] | None:
        if self._user is None:
            self.reply(503, "Login with USER first.")
            return None
        user, self._user = self._user, None
        creds: Any
        if self._anonymous(user):
            creds = credentials.Anonymous()
        else:
            creds = credentials.UsernamePassword(
                user.encode("utf-8", "surrogateescape"), password.encode("utf-8", "surrogateescape")
            )
        d = self.factory.portal.login(creds, None, IFTPShell)
        return d.addCallbacks(self._loggedIn, self._loginFailed, errbackArgs=(user,))

    def _loggedIn(self, result: tuple[Any, Any, Callable[[], object]]) -> None:
        _, shell, logout = result
        if self._closed:
            logout()
            return
        self.shell, self._logout = shell, logout
        self.workingDirectory = []
        self._failedLogins = 0
        self.reply(230, "User logged in, proceed.")

    def _loginFailed(self, failure: Failure, user: str) -> None:
        if not failure.check(UnauthorizedLogin):
            _log.failure("logging in {user!r} failed", failure, user=user)
        self._failedLogins += 1
        self.reply(530, "Login incorrect.")
        if self._failedLogins >= _MAX_FAILED_LOGINS:
            self.reply(421, "Too many failed logins; closing.")
            self.transport.loseConnection()

    def ftp_QUIT(self, argument: str) -> None:
        self.reply(221, "Goodbye.")
        self.transport.loseConnection()

    # -- TLS (RFC 4217) ---------------------------------------------------------------

    def ftp_AUTH(self, mechanism: str) -> None:
        if self.factory.tlsOptions is None:
            self.reply(502, "TLS is not configured on this server.")
        elif mechanism.upper() not in ("TLS", "TLS-C", "SSL"):
            self.reply(504, f"AUTH {mechanism[:20]!r} is not supported; use AUTH TLS.")
        elif self._tls:
            self.reply(503, "TLS is on already.")
        else:
            self.reply(234, "AUTH TLS successful.")
            # Whatever came in clear after AUTH (pipelined commands) is dropped, so
            # nobody can inject commands that then count as sent over TLS.
            self._queue.clear()
            self._parser = codec.CommandParser()
            startTLS(self.transport, self.factory.tlsOptions)
            self._tls = True
            self._user = None

    def ftp_PBSZ(self, size: str) -> None:
        if not self._tls:
            self.reply(503, "PBSZ needs AUTH TLS first.")
        elif not size.strip().isdigit():
            raise codec.BadArgument("PBSZ takes a number")
        else:
            self._pbsz = True
            self.reply(200, "PBSZ=0")

    def ftp_PROT(self, level: str) -> None:
        level = level.strip().upper()
        if not self._pbsz:
            self.reply(503, "PROT needs PBSZ first.")
        elif level == "P":
            self._setProtection(True)
            self.reply(200, "Data connections are protected (TLS).")
        elif level == "C":
            if self.factory.requireTLS:
                self.reply(534, "Clear data connections are refused here.")
                return
            self._setProtection(False)
            self.reply(200, "Data connections are in clear.")
        elif level in ("S", "E"):
            self.reply(536, f"PROT {level} is not supported; use P or C.")
        else:
            raise codec.BadArgument("PROT takes C, S, E or P")

    def _setProtection(self, on: bool) -> None:
        # Set now: a client may start the data connection's handshake as soon as it
        # connects, before the transfer command.
        self._protect = on
        assert self.data is not None
        self.data.tlsOptions = self.factory.tlsOptions if on else None

    # -- information ------------------------------------------------------------------

    def ftp_SYST(self, argument: str) -> None:
        self.reply(215, "UNIX Type: L8")

    def ftp_NOOP(self, argument: str) -> None:
        self.reply(200, "NOOP ok.")

    def ftp_FEAT(self, argument: str) -> None:
        features = ["EPRT", "EPSV", "MDTM", f"MLST {_MLST_FACTS}", "PASV", "REST STREAM"]
        features += ["SIZE", "TVFS", "UTF8"]
        if self.factory.tlsOptions is not None:
            features = ["AUTH TLS", "PBSZ", "PROT", *features]
        self.reply(211, "\n".join(["Features:", *(" " + f for f in features), "End"]))

    def ftp_OPTS(self, argument: str) -> None:
        option = argument.strip().upper()
        if option in ("UTF8 ON", "UTF-8 ON"):
            self.reply(200, "UTF8 is always on.")
        elif option.startswith("MLST"):
            self.reply(200, f"MLST OPTS {_MLST_FACTS}")
        else:
            self.reply(501, f"Option {argument[:40]!r} not understood.")

    def ftp_HELP(self, argument: str) -> None:
        names = sorted(n[4:] for n in dir(self) if n.startswith("ftp_"))
        lines = [" ".join(names[i : i + 12]) for i in range(0, len(names), 12)]
        self.reply(214, "\n".join(["The commands recognised:", *lines, "Help OK."]))

    def ftp_STAT(self, argument: str) -> None:
        state = "transferring" if self._transferring else "idle"
        self.reply(211, f"torsion FTP server status: {state}.")

    def ftp_ALLO(self, argument: str) -> None:
        self.reply(202, "No storage allocation necessary.")

    def ftp_ACCT(self, argument: str) -> None:
        self.reply(202, "No account needed.")

    # -- types ------------------------------------------------------------------------

    def ftp_TYPE(self, argument: str) -> None:
        kind = argument.strip().upper().split()
        if kind in (["A"], ["A", "N"]):
            self.binary = False
            self.reply(200, "Type set to A (ASCII).")
        elif kind in (["I"], ["L", "8"]):
            self.binary = True
            self.reply(200, "Type set to I (binary).")
        else:
            self.reply(504, f"TYPE {argument[:20]!r} is not supported; use A or I.")

    def ftp_MODE(self, argument: str) -> None:
        if argument.strip().upper() == "S":
            self.reply(200, "Mode S (stream).")
        else:
            self.reply(504, "Only MODE S (stream) is supported.")

    def ftp_STRU(self, argument: str) -> None:
        if argument.strip().upper() == "F":
            self.reply(200, "Structure F (file).")
        else:
            self.reply(504, "Only STRU F (file) is supported.")

    # -- directories ------------------------------------------------------------------

    def ftp_PWD(self, argument: str) -> None:
        self.reply(257, f'"{self._show(self.workingDirectory)}" is the current directory.')

    def ftp_CWD(self, argument: str) -> defer.Deferred[None]:
        segments = self._path(argument or "/")

        def entered(_: object) -> None:
            self.workingDirectory = segments
            self.reply(250, f'Directory changed to "{self._show(segments)}".')

        return self.shell.access(segments).addCallback(entered)  # type: ignore[no-any-return]

    def ftp_CDUP(self, argument: str) -> defer.Deferred[None]:
        return self.ftp_CWD("..") if self.workingDirectory else self.ftp_CWD("/")

    def ftp_MKD(self, argument: str) -> defer.Deferred[None]:
        segments = self._path(self._needed(argument, "MKD"))
        d = self.shell.makeDirectory(segments)
        return d.addCallback(  # type: ignore[no-any-return]
            lambda _: self.reply(257, f'"{self._show(segments)}" created.')
        )

    def ftp_RMD(self, argument: str) -> defer.Deferred[None]:
        d = self.shell.removeDirectory(self._path(self._needed(argument, "RMD")))
        return d.addCallback(lambda _: self.reply(250, "Directory removed."))  # type: ignore[no-any-return]

    def ftp_DELE(self, argument: str) -> defer.Deferred[None]:
        d = self.shell.removeFile(self._path(self._needed(argument, "DELE")))
        return d.addCallback(lambda _: self.reply(250, "File removed."))  # type: ignore[no-any-return]

    def ftp_RNFR(self, argument: str) -> defer.Deferred[None]:
        segments = self._path(self._needed(argument, "RNFR"))

        def found(_: object) -> None:
            self._renameFrom = segments
            self.reply(350, "Ready for RNTO.")

        return self.shell.stat(segments, ()).addCallback(found)  # type: ignore[no-any-return]

    def ftp_RNTO(self, argument: str) -> defer.Deferred[None] | None:
        source, self._renameFrom = self._renameFrom, None
        if source is None:
            self.reply(503, "RNFR first.")
            return None
        d = self.shell.rename(source, self._path(self._needed(argument, "RNTO")))
        return d.addCallback(lambda _: self.reply(250, "Renamed."))  # type: ignore[no-any-return]

    def _needed(self, argument: str, command: str) -> str:
        if not argument:
            raise codec.BadArgument(f"{command} needs a path")
        return argument

    # -- file facts -------------------------------------------------------------------

    def ftp_SIZE(self, argument: str) -> defer.Deferred[None]:
        segments = self._path(self._needed(argument, "SIZE"))

        def sized(values: list[Any]) -> Any:
            size, directory = values
            if directory:
                raise IsADirectoryError("that is a directory; SIZE is for files")
            if self.binary:
                self.reply(213, str(size))
                return None
            if size > ASCII_SIZE_LIMIT:
                raise FTPCmdError(
                    f"the TYPE A size of a file over {ASCII_SIZE_LIMIT} bytes is not "
                    "counted; send TYPE I first"
                )
            counter = _ASCIISizeCounter()
            d = self.shell.openForReading(segments).addCallback(lambda f: f.send(counter))
            return d.addCallback(lambda _: self.reply(213, str(counter.size)))

        return self.shell.stat(segments, ("size", "directory")).addCallback(sized)  # type: ignore[no-any-return]

    def ftp_MDTM(self, argument: str) -> defer.Deferred[None]:
        segments = self._path(self._needed(argument, "MDTM"))
        d = self.shell.stat(segments, ("modified",))
        return d.addCallback(lambda v: self.reply(213, codec.mdtmTime(v[0])))  # type: ignore[no-any-return]

    def ftp_MLST(self, argument: str) -> defer.Deferred[None]:
        segments = self._path(argument or ".")

        def facts(values: list[Any]) -> None:
            attrs = dict(zip(("permissions", "size", "mtime"), values, strict=True))
            shown = "/" + "/".join(segments)
            self.reply(250, f"Listing {shown}\n {codec.mlsxFacts(shown, attrs)}\nEnd.")

        keys = ("permissions", "size", "modified")
        return self.shell.stat(segments, keys).addCallback(facts)  # type: ignore[no-any-return]

    # -- data connections -------------------------------------------------------------

    def _dataHost(self) -> str:
        return str(self.transport.getHost().host)

    def ftp_PASV(self, argument: str) -> None:
        if self._epsvAll:
            self.reply(503, "EPSV ALL was sent: use EPSV.")
            return
        host = self._dataHost()
        if ":" in host:
            self.reply(522, "PASV is for IPv4; use EPSV.")
            return
        assert self.data is not None
        port = self.data.listen(host, self.factory.passivePortRange)
        shown = self.factory.passiveAddress or host
        self.reply(227, f"Entering Passive Mode ({codec.encodeHostPort(shown, port)}).")

    def ftp_EPSV(self, argument: str) -> None:
        assert self.data is not None
        if argument.strip().upper() == "ALL":
            self._epsvAll = True
            self.reply(200, "EPSV ALL ok: only EPSV from now on.")
            return
        if argument.strip() not in ("", "1", "2"):
            self.reply(522, "Network protocol not supported, use (1,2).")
            return
        port = self.data.listen(self._dataHost(), self.factory.passivePortRange)
        self.reply(229, f"Entering Extended Passive Mode (|||{port}|).")

    def ftp_PORT(self, argument: str) -> None:
        self._active(*codec.decodeHostPort(argument))

    def ftp_EPRT(self, argument: str) -> None:
        self._active(*codec.parseEPRT(argument))

    def _active(self, host: str, port: int) -> None:
        assert self.data is not None
        if self._epsvAll:
            self.reply(503, "EPSV ALL was sent: use EPSV.")
        elif port < 1024:
            self.reply(504, f"Refused: a data connection to the privileged port {port}.")
        elif host != self.data.peerHost and not self.factory.allowForeignDataAddress:
            self.reply(
                504,
                f"Refused: data connections go only to your own address ({self.data.peerHost}).",
            )
        else:
            self.data.connectTo(host, port)
            self.reply(200, "PORT command successful.")

    def _transfer(
        self,
        start: Callable[[Any], defer.Deferred[Any] | None],
        what: str,
        finish: Callable[[], defer.Deferred[None]] | None = None,
    ) -> defer.Deferred[None]:
        """Open the data connection, run ``start(dtp)``, and reply once it closes
        (and ``finish()``, if given, has fired: an upload's file is closed)."""
        assert self.data is not None
        if not self.data.ready:
            raise DataConnectionError("use PASV, EPSV, PORT or EPRT first")
        self._transferring = True
        opened = self.data.open()

        def connected(dtp: Any) -> defer.Deferred[None]:
            self.reply(
                150, f"Opening {'BINARY' if self.binary else 'ASCII'} data connection for {what}."
            )
            running = start(dtp)
            if running is not None:
                running.addErrback(self._transferFailed, dtp)
            closed: defer.Deferred[Any] = dtp.closed
            if finish is not None:
                closed.addBoth(lambda result: finish().addCallback(lambda _: result))
            return closed.addCallbacks(self._transferDone, self._transferLost)

        def finished(result: Any) -> Any:
            self._transferring = False
            return result

        transferred: defer.Deferred[None] = opened.addCallback(connected).addBoth(finished)
        return transferred

    def _transferFailed(self, failure: Failure, dtp: Any) -> None:
        if not failure.check(FTPCmdError):
            _log.failure("a transfer failed", failure)
        if dtp.transport is not None:
            dtp.transport.abortConnection()

    def _transferDone(self, _: object) -> None:
        self.reply(226, "Transfer complete.")

    def _transferLost(self, failure: Failure) -> None:
        self.reply(426, "Connection closed; transfer aborted.")
        self._answerAbort()

    def ftp_ABOR(self, argument: str) -> None:
        assert self.data is not None
        if self._transferring:
            self._aborting = True  # the transfer replies 426, then 226 for ABOR
            self.data.reset()
        else:
            self.data.reset()
            self.reply(226, "ABOR ok: no transfer was running.")

    def ftp_REST(self, argument: str) -> None:
        if not argument.strip().isdigit():
            raise codec.BadArgument("REST takes a byte offset")
        self._restart = int(argument)
        self.reply(350, f"Restarting at {self._restart}; send RETR or STOR.")

    def ftp_RETR(self, argument: str) -> defer.Deferred[None]:
        segments = self._path(self._needed(argument, "RETR"))
        offset, self._restart = self._restart, 0
        self._checkData()
        d = self.shell.openForReading(segments, offset)

        def opened(readFile: Any) -> defer.Deferred[None]:
            return self._transfer(lambda dtp: dtp.sendFile(readFile, not self.binary), argument)

        return d.addCallback(opened)  # type: ignore[no-any-return]

    def _checkData(self) -> None:
        assert self.data is not None
        if self.factory.requireTLS and not self._protect:
            raise FTPCmdError.withCode(521, "Data connections must be protected here: PROT P.")
        if not self.data.ready:
            raise DataConnectionError("use PASV, EPSV, PORT or EPRT first")

    def ftp_STOR(self, argument: str) -> defer.Deferred[None]:
        return self._store(argument, append=False)

    def ftp_APPE(self, argument: str) -> defer.Deferred[None]:
        return self._store(argument, append=True)

    def _store(self, argument: str, append: bool) -> defer.Deferred[None]:
        segments = self._path(self._needed(argument, "STOR"))
        offset, self._restart = self._restart, 0
        self._checkData()
        d = self.shell.openForWriting(segments, offset, append)

        def opened(writeFile: Any) -> defer.Deferred[None]:
            def start(dtp: Any) -> defer.Deferred[None]:
                def receiving(consumer: Any) -> None:
                    dtp.receiveInto(consumer, not self.binary)

                return writeFile.receive().addCallback(receiving)  # type: ignore[no-any-return]

            closed: list[defer.Deferred[None]] = []

            def closeFile() -> defer.Deferred[None]:
                if not closed:
                    closed.append(writeFile.close())
                return closed[0]

            def closeAnyway(result: Any) -> Any:
                return closeFile().addCallback(lambda _: result)

            stored: defer.Deferred[None] = self._transfer(start, argument, closeFile)
            return stored.addBoth(closeAnyway)

        return d.addCallback(opened)  # type: ignore[no-any-return]

    def ftp_LIST(self, argument: str) -> defer.Deferred[None]:
        return self._listing(argument, self._longLines)

    def ftp_NLST(self, argument: str) -> defer.Deferred[None]:
        return self._listing(argument, lambda entries: [name for name, _ in entries])

    def ftp_MLSD(self, argument: str) -> defer.Deferred[None]:
        def facts(entries: list[tuple[str, list[Any]]]) -> list[str]:
            return [
                codec.mlsxFacts(
                    name, dict(zip(("permissions", "size", "mtime"), values[:3], strict=True))
                )
                for name, values in entries
            ]

        return self._listing(argument, facts, mlsd=True)

    _KEYS = ("permissions", "size", "modified", "owner", "group")

    def _longLines(self, entries: list[tuple[str, list[Any]]]) -> list[str]:
        return [
            codec.listLine(name, mode, size, mtime, owner, group)
            for name, (mode, size, mtime, owner, group) in entries
        ]

    def _listing(
        self,
        argument: str,
        render: Callable[[list[tuple[str, list[Any]]]], list[str]],
        mlsd: bool = False,
    ) -> defer.Deferred[None]:
        # Clients send ls options ("LIST -la"); they are not paths.
        words = argument.split()
        while not mlsd and words and words[0].startswith("-"):
            words.pop(0)
        segments = self._path(" ".join(words) or ".")
        self._checkData()
        d = self.shell.stat(segments, ("directory",))

        def listed(values: list[Any]) -> defer.Deferred[list[tuple[str, list[Any]]]]:
            if values[0]:
                return self.shell.list(segments, self._KEYS)  # type: ignore[no-any-return]
            if mlsd:
                raise IsNotADirectoryError("MLSD lists directories; MLST describes a file")
            stat = self.shell.stat(segments, self._KEYS)
            return stat.addCallback(lambda v: [(segments[-1], v)])  # type: ignore[no-any-return]

        def send(entries: list[tuple[str, list[Any]]]) -> defer.Deferred[None]:
            text = "".join(line + "\r\n" for line in render(entries))
            data = text.encode("utf-8", "surrogateescape")
            return self._transfer(lambda dtp: dtp.sendBytes(data), "the listing")

        return d.addCallback(listed).addCallback(send)  # type: ignore[no-any-return]


@implementer(IConsumer)
class _ASCIISizeCounter:
    """SIZE in TYPE A (RFC 3659 section 4): counts the bytes a TYPE A download sends."""

    def __init__(self) -> None:
        self.size = 0
        self._converter = codec.ToNetworkASCII()
        self._producer: Any = None

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self._producer = producer
        while self._producer is not None:
            producer.resumeProducing()

    def unregisterProducer(self) -> None:
        self._producer = None

    def write(self, data: bytes) -> None:
        self.size += len(self._converter.convert(data))


class FTPFactory(Factory):
    """The FTP server: logs users in through ``portal`` (IFTPShell avatars).

    Attributes (set them on the factory):
        userAnonymous: the user name of anonymous logins ("ftp" works too); they
            get in if ``allowAnonymous`` and the portal has an IAnonymous checker.
        tlsOptions: CertificateOptions to offer AUTH TLS with (None: no TLS).
        requireTLS: refuse USER before AUTH TLS, and clear data connections.
        passivePortRange: the ports PASV/EPSV may listen on (range(0, 1): any free).
        passiveAddress: the IPv4 address PASV replies name, for a server behind NAT
            (None: the address the client connected to).
        allowForeignDataAddress: let PORT/EPRT name another host than the client's
            (FXP). Off: that is how FTP servers are used to attack third parties.
        timeOut: seconds an idle control connection is kept (None: forever).
        dataTimeout: seconds to wait for a data connection to be made.
        reactor: the reactor for data connections and timers (the global one if None).
    """

    protocol = FTP
    welcomeMessage = "torsion FTP server ready."
    allowAnonymous = True
    tlsOptions: Any = None
    requireTLS = False
    passivePortRange = range(0, 1)
    passiveAddress: str | None = None
    allowForeignDataAddress = False
    timeOut: float | None = 600.0
    dataTimeout = 30.0

    def __init__(
        self, portal: Portal | None = None, userAnonymous: str = "anonymous", reactor: Any = None
    ) -> None:
        if portal is None:
            raise TypeError("FTPFactory needs a portal whose realm gives IFTPShell avatars")
        self.portal = portal
        self.userAnonymous = userAnonymous
        self._reactor = reactor

    @property
    def reactor(self) -> Any:
        """The reactor given, or the installed one."""
        if self._reactor is not None:
            return self._reactor
        # Looked up each time, not kept: a factory saved by ``torsion mktap`` must not
        # hold a reactor.
        from torsion.internet import reactor as installed

        return installed
