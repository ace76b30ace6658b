"""Exceptions raised by the reactor and its transports (Twisted's ``internet.error``).

The hierarchy is Twisted's, so ``except`` clauses port unchanged: ConnectionDone and
ConnectionLost are both ConnectionClosed; every failed connection attempt is a
ConnectError (``getConnectError`` picks the subclass for an OSError); TimeoutError is
a UserError and also the built-in TimeoutError. The process, SSL and UDP multicast
errors arrive with those transports.
Tests: tests/internet/test_error.py and the tests of each transport.
"""

from __future__ import annotations

import builtins
import errno
import signal
import socket


class AlreadyCalled(ValueError):
    """The DelayedCall has already run; it can no longer be cancelled or reset."""


class AlreadyCancelled(ValueError):
    """The DelayedCall was cancelled; it can no longer be cancelled or reset."""


class ConnectionClosed(Exception):
    """The connection is closed, cleanly (ConnectionDone) or not (ConnectionLost)."""


class ConnectionDone(ConnectionClosed):
    """The connection was closed cleanly."""

    def __str__(self) -> str:
        return "Connection was closed cleanly." + (f" {self.args[0]}" if self.args else "")


class ConnectionLost(ConnectionClosed):
    """The connection was lost in an unclean way."""

    def __str__(self) -> str:
        return "Connection to the other side was lost in a non-clean fashion." + (
            f" {self.args[0]}" if self.args else ""
        )


class ReactorNotRunning(RuntimeError):
    """``reactor.stop()`` was called while the reactor was not running."""


class ReactorAlreadyRunning(RuntimeError):
    """``reactor.run()`` was called while the reactor was already running."""


class ReactorNotRestartable(RuntimeError):
    """This reactor has run and stopped; it cannot be run a second time."""


class ReactorAlreadyInstalledError(AssertionError):
    """A reactor was installed already; installing another would split the program."""


class UserError(Exception):
    """The caller asked for something that cannot be done (for example, connecting twice)."""


class TimeoutError(UserError, builtins.TimeoutError):
    """An operation (a connection attempt, a Deferred with addTimeout) ran out of time."""

    def __str__(self) -> str:
        return "User timeout caused connection failure." + (
            f" {' '.join(map(str, self.args))}" if self.args else ""
        )


class BindError(Exception):
    """A socket could not be bound to the requested local address."""


class CannotListenError(BindError):
    """``listenTCP`` (or another listen call) could not listen on an address.

    Args:
        interface: the interface that was asked for ('' meaning every IPv4 interface;
            None for a UNIX socket, whose path is then ``port``).
        port: the port number that was asked for (a UNIX socket's path).
        socketError: the OSError that the operating system raised.
    """

    def __init__(self, interface: str | None, port: int | str, socketError: BaseException) -> None:
        super().__init__(interface, port, socketError)
        self.interface = interface
        self.port = port
        self.socketError = socketError

    def __str__(self) -> str:
        if self.interface is None:
            # A UNIX socket path: torsion.internet.unix words socketError to say why
            # and what to do.
            return f"Couldn't listen on {self.port!r}: {self.socketError}"
        where = f"{self.interface or 'all interfaces'}:{self.port}"
        code = getattr(self.socketError, "errno", None)
        if code == errno.EADDRINUSE:
            hint = "the port is in use by another process; choose another port"
        elif code == errno.EACCES:
            hint = "permission denied; ports below 1024 need privileges, choose a higher port"
        elif code == errno.EADDRNOTAVAIL:
            hint = "that address is not on this machine; choose one of its interfaces"
        elif code in (errno.EMFILE, errno.ENFILE):
            hint = "too many open files; close some or raise the limit (ulimit -n)"
        else:
            hint = "check the address and port"
        return f"Couldn't listen on {where}: {self.socketError}; {hint}."


class ConnectError(Exception):
    """A connection attempt failed; the subclasses say why.

    Args:
        osError: the underlying error (an errno string or an exception), if any.
        string: extra words describing the failure.
    """

    defaultMessage = "An error occurred while connecting"

    def __init__(self, osError: object = None, string: str = "") -> None:
        self.osError = osError
        super().__init__(string)

    def __str__(self) -> str:
        text = self.defaultMessage
        if self.osError:
            text = f"{text}: {self.osError}"
        if self.args and self.args[0]:
            text = f"{text}: {self.args[0]}"
        return text + "."


class ConnectBindError(ConnectError):
    """The client socket could not be bound to the requested ``bindAddress``."""

    defaultMessage = "Couldn't bind"


class UnknownHostError(ConnectError):
    """The host name could not be found."""

    defaultMessage = "Hostname couldn't be looked up"


class DNSLookupError(OSError):
    """A host name lookup failed (the name does not exist, or the lookup timed out)."""


class NoRouteError(ConnectError):
    """There is no route to the host."""

    defaultMessage = "No route to host"


class ConnectionRefusedError(ConnectError):
    """The other side refused the connection (nothing listens on that port)."""

    defaultMessage = "Connection was refused by other side"


class TCPTimedOutError(ConnectError):
    """The operating system gave up on the TCP connection attempt."""

    defaultMessage = "TCP connection timed out"


class ConnectingCancelledError(Exception):
    """A connection attempt was cancelled before it completed.

    Args:
        address: the address that was being connected to.
    """

    def __init__(self, address: object) -> None:
        super().__init__(address)
        self.address = address


class ConnectionFdescWentAway(ConnectionLost):
    """The file descriptor of the connection was closed underneath it."""


class ConnectionAborted(ConnectionLost):
    """The connection was closed with ``abortConnection``, dropping unsent data."""

    def __str__(self) -> str:
        return "Connection was aborted locally using ITCPTransport.abortConnection." + (
            f" {self.args[0]}" if self.args else ""
        )


class NotConnectingError(RuntimeError):
    """``stopConnecting`` was called on a connector that is not connecting."""


class AlreadyListened(Exception):
    """The port is already listening."""


class ServiceNameUnknownError(ConnectError):
    """A service name given as the port (such as 'http') is not known."""

    defaultMessage = "Service name given as port is unknown"


class ConnectInProgressError(Exception):
    """A connection attempt is already under way on this connector."""


class BadFileError(ConnectError):
    """The file named for a UNIX socket cannot be used."""

    defaultMessage = "File used for UNIX socket is no good"


class NotListeningError(RuntimeError):
    """The port was asked to stop listening but it is not listening."""


class NoProtocol(Exception):
    """The factory's buildProtocol returned None, so the connection was closed."""


class UnsupportedAddressFamily(Exception):
    """The address family asked for is not supported by this reactor or transport."""


class UnsupportedSocketType(Exception):
    """The socket type asked for is not supported by this reactor or transport."""


class InvalidAddressError(ValueError):
    """An address (for example a host given to listenTCP) is not valid.

    Args:
        address: the address that was given.
        message: what is wrong with it.
    """

    def __init__(self, address: object, message: str) -> None:
        super().__init__(address, message)
        self.address = address
        self.message = message

    def __str__(self) -> str:
        return f"Invalid address {self.address!r}: {self.message}"


# The errno values that have their own ConnectError subclass; others get ConnectError.
errnoMapping: dict[int, type[ConnectError]] = {
    errno.ECONNREFUSED: ConnectionRefusedError,
    errno.ENETUNREACH: NoRouteError,
    errno.EHOSTUNREACH: NoRouteError,
    errno.ETIMEDOUT: TCPTimedOutError,
}


def getConnectError(e: BaseException | tuple[int, str]) -> ConnectError:
    """Return the ConnectError that describes why a connection attempt failed.

    Args:
        e: the OSError raised by the attempt, or an ``(errno, text)`` pair.

    Returns:
        An instance of the most specific ConnectError subclass: ConnectionRefusedError,
        NoRouteError, TCPTimedOutError, UnknownHostError (for a name lookup error) or
        ConnectError itself.
    """
    if isinstance(e, socket.gaierror):
        return UnknownHostError(string=e.strerror or str(e))
    if isinstance(e, tuple):
        number, text = e
    elif isinstance(e, OSError) and e.errno is not None:
        number, text = e.errno, e.strerror or str(e)
    else:
        return ConnectError(string=str(e))
    klass = errnoMapping.get(number, ConnectError)
    return klass(osError=errno.errorcode.get(number, str(number)), string=text)


# -- TLS (torsion.internet.ssl, torsion.protocols.tls) ---------------------------------
class SSLError(ConnectionLost):
    """TLS failed on a connection: the handshake, a record, or the peer's certificate.

    It is the reason a TLS connection's protocol gets in ``connectionLost`` when the
    TLS layer ends it (a ConnectionLost, so code that only checks for an unclean close
    still sees one). ``sslError`` is the standard library's ``ssl.SSLError`` behind it,
    when there is one.

    Args:
        message: what went wrong, and what to do about it.
        sslError: the ``ssl.SSLError`` (or other exception) the TLS library raised.
    """

    def __init__(self, message: str = "", sslError: BaseException | None = None) -> None:
        super().__init__(message)
        self.sslError = sslError

    def __str__(self) -> str:
        return str(self.args[0]) if self.args and self.args[0] else "TLS failed."


class CertificateVerificationError(SSLError):
    """The peer's certificate was refused: untrusted, expired, or for another host name.

    ``verifyMessage`` is OpenSSL's reason ("Hostname mismatch, certificate is not
    valid for 'example.com'.", "self-signed certificate", ...) and ``verifyCode`` its
    number (``X509_V_ERR_*``), when known.
    """

    def __init__(
        self,
        message: str = "",
        sslError: BaseException | None = None,
        verifyCode: int | None = None,
        verifyMessage: str | None = None,
    ) -> None:
        super().__init__(message, sslError)
        self.verifyCode = verifyCode
        self.verifyMessage = verifyMessage


# -- UDP and multicast (torsion.internet.udp) ------------------------------------------


class MessageLengthError(Exception):
    """A datagram was too long to send (EMSGSIZE): split it, or send less at a time.

    UDP carries at most 65,507 bytes of data per datagram over IPv4 (65,527 over
    IPv6), and a connected port may learn that its path carries less; a UNIX
    datagram socket is limited by its send buffer (SO_SNDBUF).
    """

    def __str__(self) -> str:
        text = "Message is too long to send"
        if self.args:
            text = f"{text}: {' '.join(map(str, self.args))}"
        return text + "."


class MulticastJoinError(Exception):
    """Joining (or leaving) a multicast group failed.

    Args:
        group: the group address that was asked for.
        interface: the interface address ('' meaning the system's choice).
        errno: the operating system's error number, if any.
        strerror: its text.
        action: 'join' or 'leave'.
    """

    def __init__(
        self,
        group: str,
        interface: str,
        errno: int | None = None,
        strerror: str = "",
        action: str = "join",
    ) -> None:
        super().__init__(group, interface, errno, strerror)
        self.group = group
        self.interface = interface
        self.errno = errno
        self.strerror = strerror
        self.action = action

    def __str__(self) -> str:
        where = f"on interface {self.interface}" if self.interface else "on the default interface"
        reason = f": {self.strerror}" if self.strerror else ""
        if self.action == "leave":
            hint = "leave only a group this port joined, on the interface it joined it on"
        else:
            hint = (
                "the group must be a multicast address (224.0.0.0 to 239.255.255.255) "
                "and the interface an IPv4 address of this machine"
            )
        return f"Couldn't {self.action} multicast group {self.group} {where}{reason}; {hint}."


# -- UNIX sockets (torsion.internet.unix) ----------------------------------------------


# -- processes (torsion.internet.process) ----------------------------------------------


def _signalName(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class ProcessDone(ConnectionDone):
    """A child process exited with status 0 (``reason.value`` in processEnded).

    Args:
        status: the wait status as ``os.waitpid`` returned it.
    """

    def __init__(self, status: int = 0) -> None:
        super().__init__(status)
        self.exitCode = 0
        self.signal: int | None = None
        self.status = status

    def __str__(self) -> str:
        return "A process has ended without apparent errors: it exited with code 0."


class ProcessTerminated(ConnectionLost):
    """A child process exited with a non-zero code, or was killed by a signal.

    Exactly one of ``exitCode`` and ``signal`` is set, except when the exit status
    could not be collected (someone else reaped the child): then both are None.

    Args:
        exitCode: the code the process passed to exit(), if it exited.
        signal: the number of the signal that killed it, if one did.
        status: the wait status as ``os.waitpid`` returned it (None if unknown).
    """

    def __init__(
        self, exitCode: int | None = None, signal: int | None = None, status: int | None = None
    ) -> None:
        super().__init__(exitCode, signal, status)
        self.exitCode = exitCode
        self.signal = signal
        self.status = status

    def __str__(self) -> str:
        if self.signal is not None:
            how = f"it was killed by signal {self.signal} ({_signalName(self.signal)})"
        elif self.exitCode is not None:
            how = f"it exited with code {self.exitCode}"
        else:
            how = (
                "its exit status is unknown (something else in this program waited for "
                "it: do not call os.wait or os.waitpid(-1, ...) on torsion's children)"
            )
        return f"A process has ended with a probable error condition: {how}."


class ProcessExitedAlready(Exception):
    """The process has exited (and was reaped), so it can no longer be signalled."""


# -- endpoints (torsion.internet.endpoints) --------------------------------------------
