"""The "session" channel (RFC 4254 section 6): shells, commands, ptys, environment,
signals, subsystems and exit statuses (torsion.conch.ssh.session).

`SSHSession` is the channel; what a session does is the avatar's, adapted to
`ISession` (``getPty``, ``openShell``, ``execCommand``, ``windowChanged``,
``eofReceived``, ``closed``; ``setEnv`` through `ISessionSetEnv`; ``signal(name)`` if
the session has one). A shell or command talks to the channel through
`SSHSessionProcessProtocol`, a process protocol: its stdout is the channel's data,
its stderr the channel's extended data, and its end becomes exit-status or
exit-signal, then the channel's close. The process's output is paused while the
client's window is full, so a slow client holds the process back. Subsystems
(sftp) are protocols from ``avatar.lookupSubsystem`` connected to the channel.
The pty-req and window-change encodings are ``packRequest_pty_req`` and friends, as
in Twisted. Tests: tests/conch/test_session.py.
"""

from __future__ import annotations

import signal as signals
import struct
from typing import Any

from zope.interface import implementer

from torsion.conch.interfaces import ISession, ISessionSetEnv
from torsion.conch.ssh.channel import SSHChannel
from torsion.conch.ssh.common import NS, getNS
from torsion.internet import interfaces, protocol
from torsion.internet.error import ProcessDone, ProcessTerminated
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "SSHSession",
    "SSHSessionProcessProtocol",
    "packRequest_pty_req",
    "packRequest_window_change",
    "parseRequest_pty_req",
    "parseRequest_window_change",
    "wrapProtocol",
]

_log = Logger()
EXTENDED_DATA_STDERR = 1
_MAX_MODES = 1024  # encoded terminal modes: 5 bytes each, a few dozen in practice
# RFC 4254 section 6.10: signal names without "SIG".
_SIGNALS = {
    name[3:]: getattr(signals, name)
    for name in ("SIGABRT", "SIGALRM", "SIGFPE", "SIGHUP", "SIGILL", "SIGINT", "SIGKILL",
                 "SIGPIPE", "SIGQUIT", "SIGSEGV", "SIGTERM", "SIGUSR1", "SIGUSR2")
}  # fmt: skip
_SIGNAL_NAMES = {number: name for name, number in _SIGNALS.items()}


def parseRequest_pty_req(
    data: bytes,
) -> tuple[bytes, tuple[int, int, int, int], list[tuple[int, int]]]:
    """(terminal type, (rows, columns, xpixels, ypixels), [(opcode, value)]) of a pty-req."""
    term, rest = getNS(data)
    cols, rows, xpixel, ypixel = struct.unpack_from("!4L", rest)
    modes, _ = getNS(rest[16:])
    if len(modes) > _MAX_MODES:
        raise ValueError("too many terminal modes")
    parsed = []
    for index in range(0, len(modes) - 4, 5):
        opcode, value = struct.unpack_from("!BL", modes, index)
        if opcode == 0:  # TTY_OP_END
            break
        parsed.append((opcode, value))
    return term, (rows, cols, xpixel, ypixel), parsed


def packRequest_pty_req(term: bytes, geometry: tuple[int, int, int, int], modes: bytes) -> bytes:
    rows, cols, xpixel, ypixel = geometry
    return NS(term) + struct.pack("!4L", cols, rows, xpixel, ypixel) + NS(modes)


def parseRequest_window_change(data: bytes) -> tuple[int, int, int, int]:
    """(rows, columns, xpixels, ypixels) of a window-change request."""
    cols, rows, xpixel, ypixel = struct.unpack("!4L", data[:16])
    return rows, cols, xpixel, ypixel


def packRequest_window_change(geometry: tuple[int, int, int, int]) -> bytes:
    rows, cols, xpixel, ypixel = geometry
    return struct.pack("!4L", cols, rows, xpixel, ypixel)


class SSHSession(SSHChannel):
    """The session channel of a server (Twisted's SSHSession)."""

    name = b"session"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.session: Any = None
        self.client: Any = None  # the SSHSessionProcessProtocol once something runs

    def _session(self) -> Any:
        if self.session is None:
            self.session = ISession(self.avatar)
        return self.session

    def request_pty_req(self, data: bytes) -> bool:
        term, geometry, modes = parseRequest_pty_req(data)
        self._session().getPty(term, geometry, modes)
        return True

    def request_window_change(self, data: bytes) -> bool:
        self._session().windowChanged(parseRequest_window_change(data))
        return True

    def request_env(self, data: bytes) -> bool:
        name, value, _ = getNS(data, 2)
        setter = ISessionSetEnv(self._session(), None)
        if setter is None:
            return False
        setter.setEnv(name, value)
        return True

    def request_signal(self, data: bytes) -> bool:
        name, _ = getNS(data)
        handler = getattr(self._session(), "signal", None)
        if handler is None or name.decode("ascii", "replace") not in _SIGNALS:
            return False
        handler(name)
        return True

    def _started(self) -> bool:
        if self.client is not None:
            _log.info("{channel}: a second shell/exec/subsystem refused", channel=self)
            return False
        return True

    def request_shell(self, data: bytes) -> bool:
        if not self._started():
            return False
        self.client = SSHSessionProcessProtocol(self)
        self._session().openShell(self.client)
        return True

    def request_exec(self, data: bytes) -> bool:
        if not self._started():
            return False
        command, _ = getNS(data)
        self.client = SSHSessionProcessProtocol(self)
        self._session().execCommand(self.client, command)
        return True

    def request_subsystem(self, data: bytes) -> bool:
        if not self._started():
            return False
        subsystem, _ = getNS(data)
        served = self.avatar.lookupSubsystem(subsystem, data)
        if served is None:
            _log.info("{channel}: no subsystem {name}", channel=self, name=subsystem)
            return False
        self.client = SSHSessionProcessProtocol(self)
        served.makeConnection(_ChannelTransport(self))
        self.client.makeConnection(_ProtocolAsProcess(served, self.client))
        return True

    def dataReceived(self, data: bytes) -> None:
        if self.client is None:
            _log.info("{channel}: data before a shell, command or subsystem", channel=self)
            return
        self.client.transport.write(data)

    def extReceived(self, dataType: int, data: bytes) -> None:
        pass  # a client's stderr means nothing to a server

    def eofReceived(self) -> None:
        if self.session is not None:
            self.session.eofReceived()
        elif self.client is not None:
            self.client.transport.closeStdin()

    def closeReceived(self) -> None:
        super().closeReceived()
        if self.client is not None:
            self.client.transport.loseConnection()

    def closed(self) -> None:
        if self.session is not None:
            self.session.closed()
        elif self.client is not None:
            self.client.transport.loseConnection()

    def loseConnection(self) -> None:
        if self.client is not None:
            self.client.transport.loseConnection()
        super().loseConnection()

    # The process's output follows the client's window.
    def stopWriting(self) -> None:
        super().stopWriting()
        if self.client is not None and self.client.transport is not None:
            self.client.transport.pauseProducing()

    def startWriting(self) -> None:
        super().startWriting()
        if self.client is not None and self.client.transport is not None:
            self.client.transport.resumeProducing()


class SSHSessionProcessProtocol(protocol.ProcessProtocol):
    """A process (or subsystem) on a session channel."""

    def __init__(self, session: SSHSession) -> None:
        self.session = session

    def connectionMade(self) -> None:
        if not self.session.areWriting:
            self.transport.pauseProducing()

    def outReceived(self, data: bytes) -> None:
        self.session.write(data)

    def errReceived(self, data: bytes) -> None:
        self.session.writeExtended(EXTENDED_DATA_STDERR, data)

    def outConnectionLost(self) -> None:
        # The command's output ended: tell the client, even before it exits.
        if self.session.conn is not None and not self.session.closing:
            self.session.conn.sendEOF(self.session)

    def processEnded(self, reason: Failure) -> None:
        conn = self.session.conn
        if conn is not None and not (self.session.localClosed or self.session.remoteClosed):
            value = reason.value
            signal = getattr(value, "signal", None)
            if isinstance(value, ProcessTerminated) and signal is not None:
                name = _SIGNAL_NAMES.get(signal, f"{signal}").encode("ascii")
                coreDumped = bool(getattr(value, "coreDumped", False))
                conn.sendRequest(
                    self.session,
                    b"exit-signal",
                    NS(name) + bytes((coreDumped,)) + NS(b"") + NS(b""),
                )
            else:
                code = getattr(value, "exitCode", None) or 0
                conn.sendRequest(self.session, b"exit-status", struct.pack("!L", code))
        self.session.loseConnection()


@implementer(interfaces.ITransport)
class _ChannelTransport:
    """The transport a subsystem protocol writes to: the session channel."""

    def __init__(self, session: SSHSession) -> None:
        self.session = session

    def write(self, data: bytes) -> None:
        self.session.write(data)

    def writeSequence(self, data: Any) -> None:
        self.session.write(b"".join(data))

    def loseConnection(self) -> None:
        self.session.loseConnection()

    def getPeer(self) -> Any:
        return self.session.getPeer()

    def getHost(self) -> Any:
        return self.session.getHost()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.session.registerProducer(producer, streaming)

    # The subsystem reads slowly: the client gets no more window meanwhile.
    def pauseProducing(self) -> None:
        self.session.pauseProducing()

    def resumeProducing(self) -> None:
        self.session.resumeProducing()

    def stopProducing(self) -> None:
        self.session.loseConnection()

    def unregisterProducer(self) -> None:
        self.session.unregisterProducer()


class _ProtocolAsProcess:
    """A subsystem protocol seen as the "process" of SSHSessionProcessProtocol: what
    the client sends goes to the protocol's dataReceived. The client's EOF ends the
    subsystem like a process whose stdin closed: exit-status 0, then the channel's
    close (OpenSSH's sftp and scp wait for that close)."""

    def __init__(self, served: Any, processProtocol: Any = None) -> None:
        self.served = served
        self.processProtocol = processProtocol
        self.closed = False
        self.pid = None

    def write(self, data: bytes) -> None:
        self.served.dataReceived(data)

    def closeStdin(self) -> None:
        self.loseConnection()

    def loseConnection(self) -> None:
        if not self.closed:
            self.closed = True
            self.served.connectionLost(Failure(ProcessDone(0)))
            if self.processProtocol is not None:
                self.processProtocol.processEnded(Failure(ProcessDone(0)))

    def pauseProducing(self) -> None:
        pause = getattr(self.served, "pauseProducing", None)
        if pause is not None:
            pause()

    def resumeProducing(self) -> None:
        resume = getattr(self.served, "resumeProducing", None)
        if resume is not None:
            resume()


def wrapProtocol(proto: Any) -> Any:
    """A process-like transport for ``proto`` (Twisted's name): see _ProtocolAsProcess."""
    return _ProtocolAsProcess(proto)
