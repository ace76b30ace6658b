"""Run a command on an SSH server as a protocol (torsion.conch.endpoints).

`SSHCommandClientEndpoint` is an IStreamClientEndpoint whose ``connect(factory)``
runs one command on the server and connects the factory's protocol to it: the
command's output is the protocol's ``dataReceived``, ``transport.write`` is its
input, ``transport.loseWriteConnection()`` its EOF, and the protocol's
``connectionLost`` says how it ended: ProcessDone for exit status 0,
ProcessTerminated (``exitCode`` or ``signal``) otherwise, ConnectionLost if the SSH
connection went away first. Its stderr goes to ``extReceived(type, data)`` when the
protocol has one, else to the log. The names are Twisted's:

- ``SSHCommandClientEndpoint.newConnection(reactor, command, username, hostname,
  port, keys=, password=, knownHosts=, ui=)``: a new SSH connection per ``connect``,
  the host key checked against ``knownHosts`` (~/.ssh/known_hosts by default; an
  unknown host is refused unless ``ui`` accepts it), logging in with ``keys``
  (private Keys) and then ``password``. It is closed when the command ends.
- ``SSHCommandClientEndpoint.existingConnection(connection, command)``: another
  command over a connection made before (``protocol.transport.conn``, or what
  ``connectSSH`` gave: a logged-in SSHConnection that stays open until closed).

Each login method is tried once: a refused password ends the attempt with
AuthenticationFailed (Twisted's client may ask again and again). Failures before the
command runs fail ``connect``'s Deferred: the host key verdict (UserRejectedKey,
HostKeyChanged), AuthenticationFailed, ConchError (the exec request refused, or the
server disconnected with a reason), the TCP error. Cancelling that Deferred ends the
attempt. Agent forwarding and agents are not supported (``agentEndpoint`` must be
None). Tests: tests/conch/test_endpoints.py, test_client_openssh.py,
test_interop_asyncssh.py.
"""

from __future__ import annotations

import os
import signal as signals
import struct
from dataclasses import dataclass
from typing import Any

from zope.interface import implementer

from torsion.conch.client.knownhosts import KnownHostsFile, hostKeyName
from torsion.conch.error import ConchError
from torsion.conch.ssh import channel, common, connection, keys, transport, userauth
from torsion.internet import defer, endpoints, interfaces
from torsion.internet.error import ConnectionDone, ConnectionLost, ProcessDone, ProcessTerminated
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "AuthenticationFailed",
    "SSHCommandAddress",
    "SSHCommandClientEndpoint",
    "connectSSH",
]

_log = Logger()


class AuthenticationFailed(Exception):
    """The server accepted none of the credentials offered."""


@implementer(interfaces.IAddress)
@dataclass(frozen=True)
class SSHCommandAddress:
    """Where a command runs: the server's address, the user and the command."""

    server: Any
    username: bytes
    command: bytes


# -- the command's channel and the transport its protocol sees ---------------------------


class _CommandChannel(channel.SSHChannel):
    """A session channel running one command, feeding a protocol."""

    name = b"session"

    def __init__(self, creator: Any, command: bytes, factory: Any, ready: defer.Deferred[Any]):
        super().__init__()
        self._creator = creator
        self._command = command
        self._factory = factory
        self._ready: defer.Deferred[Any] | None = ready
        self._protocol: Any = None
        self._early: list[bytes] = []  # data sent before the exec request was answered
        self._reason: Failure | None = None
        self.lost = False  # the SSH connection ended under the channel
        self._eofPending = False

    def channelOpen(self, specificData: bytes) -> None:
        if self._ready is None:  # connect was cancelled while the channel opened
            self.loseConnection()
            return
        d = self.conn.sendRequest(self, b"exec", common.NS(self._command), wantReply=True)
        d.addCallbacks(self._execStarted, self._execRefused)

    def openFailed(self, reason: Any) -> None:
        self._fail(reason if isinstance(reason, Failure) else Failure(reason))

    def _fail(self, reason: Failure) -> None:
        if self._ready is not None:
            ready, self._ready = self._ready, None
            ready.errback(reason)
            self._creator.cleanupConnection(self.conn, immediate=False)

    def _execRefused(self, reason: Failure) -> None:
        if self.lost:
            # No answer came: the connection ended first (say why, if we know).
            why = getattr(self.conn.transport, "_why", None)
            self._fail(why or Failure(ConnectionLost("the SSH connection was lost")))
            return
        command = self._command.decode(errors="replace")
        self._fail(Failure(ConchError(f"the server refused to run {command!r}")))
        self.loseConnection()

    def _execStarted(self, _: object) -> None:
        if self._ready is None:  # connect was cancelled meanwhile
            self.loseConnection()
            return
        address = SSHCommandAddress(self.getPeer(), self._creator.username, self._command)
        try:
            self._protocol = self._factory.buildProtocol(address)
        except Exception:
            self._fail(Failure())
            self.loseConnection()
            return
        if self._protocol is None:
            self._fail(Failure(ConchError("the factory built no protocol")))
            self.loseConnection()
            return
        self._protocol.makeConnection(_CommandTransport(self))
        ready, self._ready = self._ready, None
        ready.callback(self._protocol)
        early, self._early = self._early, []
        for data in early:
            self._protocol.dataReceived(data)
        if early:
            self.resumeProducing()

    def dataReceived(self, data: bytes) -> None:
        if self._protocol is None:
            # Kept until the protocol exists, granting no more window meanwhile: a
            # server cannot make us hold more than one window's worth.
            self._early.append(data)
            self.pauseProducing()
        else:
            self._protocol.dataReceived(data)

    def extReceived(self, dataType: int, data: bytes) -> None:
        handler = getattr(self._protocol, "extReceived", None)
        if handler is not None:
            handler(dataType, data)
        else:
            _log.info("{command} stderr: {data!r}", command=self._command, data=data)

    def eofReceived(self) -> None:
        halfClose = interfaces.IHalfCloseableProtocol(self._protocol, None)
        if halfClose is not None:
            halfClose.readConnectionLost()

    def request_exit_status(self, data: bytes) -> bool:
        (status,) = struct.unpack("!L", data[:4])
        value = ProcessDone(0) if status == 0 else ProcessTerminated(exitCode=status)
        self._reason = Failure(value)
        return True

    def request_exit_signal(self, data: bytes) -> bool:
        name, _ = common.getNS(data)
        number = getattr(signals, "SIG" + name.decode("ascii", "replace"), None)
        self._reason = Failure(ProcessTerminated(signal=int(number) if number else None))
        return True

    def sendEOF(self) -> None:
        """EOF after what still waits for the peer's window, never before it."""
        self._eofPending = True
        if not self.buf and not self.extBuf and not self.localClosed:
            self._eofPending = False
            self.conn.sendEOF(self)

    def addWindowBytes(self, data: int) -> None:
        super().addWindowBytes(data)
        if self._eofPending:
            self.sendEOF()

    def closed(self) -> None:
        if self._ready is not None:
            self._fail(Failure(ConnectionLost("the channel closed before the command ran")))
        if self._protocol is not None:
            reason = self._reason
            if reason is None:
                lost = ConnectionLost if self.lost else ConnectionDone
                reason = Failure(lost("the command's channel closed without an exit status"))
            protocol, self._protocol = self._protocol, None
            protocol.connectionLost(reason)
        self._creator.cleanupConnection(self.conn, immediate=False)


@implementer(interfaces.ITransport, interfaces.IPushProducer, interfaces.IConsumer)
class _CommandTransport:
    """The command as its protocol's transport. ``conn`` is the SSH connection (for
    ``existingConnection``)."""

    def __init__(self, commandChannel: _CommandChannel) -> None:
        self._channel = commandChannel
        self.conn = commandChannel.conn
        self.disconnecting = False

    def write(self, data: bytes) -> None:
        self._channel.write(data)

    def writeSequence(self, data: Any) -> None:
        self._channel.write(b"".join(data))

    def loseWriteConnection(self) -> None:
        """Send EOF once what was written has gone: the command's stdin ends (its
        output still comes)."""
        self._channel.sendEOF()

    def loseConnection(self) -> None:
        """Close the channel (the command sees its input and output go)."""
        self.disconnecting = True
        self._channel.loseConnection()

    def abortConnection(self) -> None:
        self.disconnecting = True
        self.conn.sendClose(self._channel)

    def getPeer(self) -> SSHCommandAddress:
        return SSHCommandAddress(
            self._channel.getPeer(), self._channel._creator.username, self._channel._command
        )

    def getHost(self) -> Any:
        return self._channel.getHost()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self._channel.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self._channel.unregisterProducer()

    # The protocol can hold the command's output back (no window is granted meanwhile).
    def pauseProducing(self) -> None:
        self._channel.pauseProducing()

    def resumeProducing(self) -> None:
        self._channel.resumeProducing()

    def stopProducing(self) -> None:
        self.loseConnection()


# -- a new connection: transport, host key, login ---------------------------------------


class _UserAuth(userauth.SSHUserAuthClient):
    """Logs in with the keys (each offered once), then the password (asked once)."""

    def __init__(self, user: bytes, instance: Any, keys: list[keys.Key], password: Any) -> None:
        super().__init__(user, instance)
        self._keys = list(keys)
        self._password = password

    def getPublicKey(self) -> Any:
        while self._keys:
            key = self._keys.pop(0)
            if key.public().blob() not in self.triedPublicKeys:
                self._current = key
                return key.public()
        return None

    def getPrivateKey(self) -> Any:
        return defer.succeed(self._current)

    def getPassword(self, prompt: bytes | None = None) -> Any:
        # Given once: a password refused by "password" is not tried again through
        # "keyboard-interactive" (the server would only count one more failure).
        password, self._password = self._password, None
        if password is None:
            return None
        return password.encode("utf-8") if isinstance(password, str) else password

    def auth_keyboard_interactive(self) -> bool:
        # The prompts are answered with the password: without one, do not ask for them.
        return self._password is not None and super().auth_keyboard_interactive()


class _SecureConnection(connection.SSHConnection):
    """The ssh-connection service of a new connection: fires ``ready`` when it starts
    and tells its channels when the connection is lost under them."""

    def __init__(self, ready: defer.Deferred[Any]) -> None:
        super().__init__()
        self._ready: defer.Deferred[Any] | None = ready

    def serviceStarted(self) -> None:
        super().serviceStarted()
        if self._ready is not None:
            ready, self._ready = self._ready, None
            ready.callback(self)

    def serviceStopped(self) -> None:
        for open in self.channels.values():
            if isinstance(open, _CommandChannel):
                open.lost = True
        super().serviceStopped()


class _CommandClientTransport(transport.SSHClientTransport):
    """SSHClientTransport checking the host key with known_hosts, then logging in."""

    def __init__(self, helper: _NewConnectionHelper, ready: defer.Deferred[Any]) -> None:
        super().__init__()
        self._helper = helper
        self._ready: defer.Deferred[Any] | None = ready
        self._why: Failure | None = None
        self.clock = helper.reactor
        for name, value in helper.transportOptions.items():
            if value:  # e.g. supportedCiphers from a command line
                setattr(self, name, list(value))
        known = helper.knownHosts.knownKeyTypes(helper.hostName())
        if known:
            # Ask for the key types we can check first, as OpenSSH does.
            preferred = [
                alg for alg in self.supportedPublicKeys if transport._KEY_TYPE.get(alg) in known
            ]
            rest = [alg for alg in self.supportedPublicKeys if alg not in preferred]
            self.supportedPublicKeys = preferred + rest
        self.userauth: userauth.SSHUserAuthClient | None = None

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> Any:
        key = keys.Key.fromString(hostKey, type="blob")
        helper = self._helper
        peer = self.transport.getPeer()
        address = getattr(peer, "host", None)
        ip = hostKeyName(address, helper.port) if address else None
        verdict = helper.knownHosts.verifyHostKey(helper.ui, helper.hostName(), ip, key)
        return verdict.addErrback(self._refused)

    def _refused(self, reason: Failure) -> Failure:
        self._why = reason
        return reason

    def connectionSecure(self) -> None:
        self.userauth = self._helper.makeUserAuth(_SecureConnection(self._connected()))
        self.requestService(self.userauth)

    def _connected(self) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()

        def started(conn: Any) -> None:
            if self._ready is not None:
                ready, self._ready = self._ready, None
                ready.callback(conn)

        return d.addCallback(started)

    def receiveError(self, reasonCode: int, description: bytes) -> None:
        super().receiveError(reasonCode, description)
        if self._why is None:
            text = description.decode("utf-8", "replace")
            self._why = Failure(ConchError(reasonCode, f"the server disconnected: {text}"))

    def sendDisconnect(self, reason: int, description: str) -> None:
        if self._why is None and not self._disconnected:
            if self.userauth is not None and self.userauth.failed:
                self._why = Failure(
                    AuthenticationFailed(
                        f"{self._helper.username.decode(errors='replace')}@"
                        f"{self._helper.hostname}: no credential offered was accepted"
                    )
                )
            elif reason != transport.DISCONNECT_BY_APPLICATION or self._ready is not None:
                self._why = Failure(ConchError(reason, description))
        super().sendDisconnect(reason, description)

    def connectionLost(self, reason: object = None) -> None:
        super().connectionLost(reason)
        if self._ready is not None:
            ready, self._ready = self._ready, None
            why = self._why
            if why is None:
                why = Failure(ConnectionLost("the SSH connection ended before it was ready"))
            ready.errback(why)


class _NewConnectionHelper:
    """Makes the SSH connection of each ``connect`` and closes it after the command."""

    def __init__(
        self,
        reactor: Any,
        hostname: str,
        port: int,
        username: bytes,
        keys: list[keys.Key],
        password: str | bytes | None,
        knownHosts: KnownHostsFile | None,
        ui: Any,
    ) -> None:
        self.reactor = reactor
        self.hostname = hostname
        self.port = port
        self.username = username
        self.keys = keys
        self.password = password
        self.ui = ui
        self._knownHosts = knownHosts
        self.transportOptions: dict[str, Any] = {}  # attributes for the SSHClientTransport

    @property
    def knownHosts(self) -> KnownHostsFile:
        if self._knownHosts is None:
            home = os.path.expanduser("~/.ssh/known_hosts")
            self._knownHosts = KnownHostsFile.fromPath(home)
        return self._knownHosts

    def hostName(self) -> bytes:
        return hostKeyName(self.hostname, self.port)

    def makeUserAuth(self, instance: Any) -> userauth.SSHUserAuthClient:
        """The ssh-userauth client that logs in, then starts ``instance``."""
        return _UserAuth(self.username, instance, self.keys, self.password)

    def secureConnection(self) -> defer.Deferred[Any]:
        """A Deferred of the logged-in SSHConnection; cancelling it ends the attempt."""

        def cancel(d: defer.Deferred[Any]) -> None:
            client._ready = None
            if client.transport is not None:
                client.transport.abortConnection()
            else:
                connecting.cancel()
            d.errback(defer.CancelledError("the SSH connection attempt was cancelled"))

        transportReady: defer.Deferred[Any] = defer.Deferred(cancel)
        client = _CommandClientTransport(self, transportReady)
        tcp = endpoints.HostnameEndpoint(self.reactor, self.hostname, self.port)
        connecting = endpoints.connectProtocol(tcp, client)

        def tcpFailed(reason: Failure) -> None:
            if client._ready is not None:
                client._ready = None
                transportReady.errback(reason)

        connecting.addErrback(tcpFailed)
        return transportReady

    def cleanupConnection(self, conn: Any, immediate: bool) -> None:
        """The command ended: close the connection once it has no channel open."""
        if conn is not None and conn.transport is not None and not conn.channels:
            conn.transport.loseConnection()


class _ExistingConnectionHelper:
    """Uses a connection made before, and leaves it open."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.username = getattr(getattr(conn.transport, "_helper", None), "username", b"")

    def secureConnection(self) -> defer.Deferred[Any]:
        return defer.succeed(self.conn)

    def cleanupConnection(self, conn: Any, immediate: bool) -> None:
        pass


@implementer(interfaces.IStreamClientEndpoint)
class SSHCommandClientEndpoint:
    """Runs ``command`` over SSH for each ``connect(factory)`` (see the module)."""

    def __init__(self, creator: Any, command: bytes) -> None:
        self._creator = creator
        self._command = command

    @classmethod
    def newConnection(
        cls,
        reactor: Any,
        command: bytes | str,
        username: bytes | str,
        hostname: str | bytes,
        port: int | None = None,
        keys: list[keys.Key] | None = None,
        password: str | bytes | None = None,
        agentEndpoint: Any = None,
        knownHosts: KnownHostsFile | None = None,
        ui: Any = None,
    ) -> SSHCommandClientEndpoint:
        """An endpoint making a new SSH connection to ``hostname`` for each command."""
        if agentEndpoint is not None:
            raise ValueError("SSH agents are not supported: pass keys= instead")
        for key in keys or []:
            if key.isPublic():
                raise ValueError(f"keys= needs private keys; {key!r} is public")
        helper = _NewConnectionHelper(
            reactor,
            hostname.decode("idna") if isinstance(hostname, bytes) else hostname,
            22 if port is None else port,
            username.encode("utf-8") if isinstance(username, str) else username,
            list(keys or []),
            password,
            knownHosts,
            ui,
        )
        return cls(helper, _asCommand(command))

    @classmethod
    def existingConnection(cls, connection: Any, command: bytes | str) -> SSHCommandClientEndpoint:
        """An endpoint running ``command`` over ``connection`` (an SSHConnection, say
        ``protocol.transport.conn`` of a command run before)."""
        return cls(_ExistingConnectionHelper(connection), _asCommand(command))

    def connect(self, protocolFactory: interfaces.IProtocolFactory) -> defer.Deferred[Any]:
        """Run the command; a Deferred of the connected protocol. Cancelling it
        abandons the attempt (and closes the command's channel if it was opened)."""
        opened: list[_CommandChannel] = []

        def cancel(d: defer.Deferred[Any]) -> None:
            if opened:
                commandChannel = opened[0]
                commandChannel._ready = None
                commandChannel.loseConnection()
            else:
                secured.cancel()

        ready: defer.Deferred[Any] = defer.Deferred(cancel)

        def open(conn: Any) -> None:
            if ready.called:
                return
            commandChannel = _CommandChannel(self._creator, self._command, protocolFactory, ready)
            opened.append(commandChannel)
            conn.openChannel(commandChannel)

        secured = self._creator.secureConnection()
        secured.addCallbacks(open, ready.errback)
        return ready


def connectSSH(
    reactor: Any,
    username: bytes | str,
    hostname: str | bytes,
    port: int | None = None,
    keys: list[keys.Key] | None = None,
    password: str | bytes | None = None,
    knownHosts: KnownHostsFile | None = None,
    ui: Any = None,
) -> defer.Deferred[connection.SSHConnection]:
    """A Deferred of a logged-in SSHConnection to ``hostname`` (the host key checked
    and the login done as for ``newConnection``), for commands through
    ``SSHCommandClientEndpoint.existingConnection`` or channels of your own (SFTP:
    torsion.conch.ssh.filetransfer). It stays open until
    ``connection.transport.loseConnection()``."""
    endpoint = SSHCommandClientEndpoint.newConnection(
        reactor, b"", username, hostname, port, keys, password, None, knownHosts, ui
    )
    secured: defer.Deferred[connection.SSHConnection] = endpoint._creator.secureConnection()
    return secured


def _asCommand(command: bytes | str) -> bytes:
    return command.encode("utf-8") if isinstance(command, str) else command
