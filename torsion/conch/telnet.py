"""Telnet (RFC 854, 855, 1143, 1073): option negotiation on top of any stream transport.

The layering is Twisted's. `Telnet` is the protocol the TCP transport talks to: it
parses the stream (torsion.conch._telnetcodec), answers and starts option negotiation
and calls ``applicationDataReceived`` with the data. `TelnetTransport` is a Telnet that
is in turn the transport of an application protocol providing `ITelnetProtocol`,
which decides which options it accepts (``enableLocal``/``enableRemote``) and asks
for options through ``will``/``wont``/``do``/``dont``, each a Deferred of the peer's
answer. `StatefulTelnetProtocol` reads lines and routes each to ``telnet_<State>``;
`AuthenticatingTelnetProtocol` logs a user in through a Cred portal first;
`TelnetBootstrapProtocol` negotiates a terminal (echo, suppress-go-ahead, window size)
for a protocol such as a shell.

Negotiation follows RFC 1143's "Q method": each side of each option is "no" or "yes",
possibly with a request of ours in flight. A peer that repeats a request we already
agreed to gets no answer, so two Telnets cannot loop. Asking for the opposite of the
request in flight (WILL ECHO just after WONT ECHO, as a login prompt does before a
shell) is queued, as the RFC's queue bit says, and sent once the answer comes; asking
for the same change again while it is in flight fails with AlreadyNegotiating. The
command and option constants are one-byte ``bytes``, as in Twisted, and so are the keys of
``commandMap``/``negotiationMap``. Tests: tests/conch/test_telnet.py,
test_telnetcodec.py and test_telnet_peers.py.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

from zope.interface import Attribute, implementer

from torsion.conch import _telnetcodec as codec
from torsion.cred.credentials import UsernamePassword
from torsion.internet import error, interfaces
from torsion.internet.defer import Deferred, fail
from torsion.internet.protocol import Protocol, connectionDone
from torsion.logger import Logger
from torsion.protocols.basic import LineReceiver
from torsion.python.failure import Failure

__all__ = [
    "AO",
    "AYT",
    "BEL",
    "BRK",
    "BS",
    "CR",
    "DM",
    "DO",
    "DONT",
    "EC",
    "ECHO",
    "EL",
    "FF",
    "GA",
    "HT",
    "IAC",
    "IP",
    "LF",
    "LINEMODE",
    "NAWS",
    "NOP",
    "NULL",
    "SB",
    "SE",
    "SGA",
    "VT",
    "WILL",
    "WONT",
    "AlreadyDisabled",
    "AlreadyEnabled",
    "AlreadyNegotiating",
    "AuthenticatingTelnetProtocol",
    "ITelnetProtocol",
    "ITelnetTransport",
    "NegotiationError",
    "OptionRefused",
    "StatefulTelnetProtocol",
    "Telnet",
    "TelnetBootstrapProtocol",
    "TelnetError",
    "TelnetProtocol",
    "TelnetTransport",
]

_log = Logger()

# Control characters of the network virtual terminal, then the commands and options.
NULL, BEL, BS, HT, LF, VT, FF, CR = (bytes((b,)) for b in (0, 7, 8, 9, 10, 11, 12, 13))
SE, NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, SB = (bytes((b,)) for b in range(240, 251))
WILL, WONT, DO, DONT, IAC = (bytes((b,)) for b in range(251, 256))
ECHO, SGA, NAWS, LINEMODE = b"\x01", b"\x03", b"\x1f", b"\x22"
# LINEMODE suboptions (RFC 1184), for TelnetBootstrapProtocol.
_LINEMODE_MODE, _LINEMODE_EDIT = b"\x01", b"\x01"


class TelnetError(Exception):
    """Base of the errors of option negotiation."""


class NegotiationError(TelnetError):
    """A request about an option could not be made; ``option`` says which."""

    def __init__(self, option: bytes) -> None:
        super().__init__(option)
        self.option = option

    def __str__(self) -> str:
        return f"{type(self).__name__}: option {ord(self.option)}"


class OptionRefused(NegotiationError):
    """The peer said no to our WILL or DO."""


class AlreadyEnabled(NegotiationError):
    """The option is on already on that side."""


class AlreadyDisabled(NegotiationError):
    """The option is off already on that side."""


class AlreadyNegotiating(NegotiationError):
    """A request about the option on that side is waiting for the peer's answer."""


class ITelnetProtocol(interfaces.IProtocol):
    """What a TelnetTransport asks of the protocol on top of it."""

    def unhandledCommand(command: bytes, argument: bytes | None) -> None:
        """A command came that the transport's commandMap does not handle."""

    def unhandledSubnegotiation(command: bytes, data: list[bytes]) -> None:
        """A subnegotiation came for an option without a handler in negotiationMap."""

    def enableLocal(option: bytes) -> bool:
        """The peer asks us to enable ``option`` on our side: return whether we do."""

    def enableRemote(option: bytes) -> bool:
        """The peer offers to enable ``option`` on its side: return whether we agree."""

    def disableLocal(option: bytes) -> None:
        """``option`` is now off on our side (the peer asked)."""

    def disableRemote(option: bytes) -> None:
        """``option`` is now off on the peer's side."""


class ITelnetTransport(interfaces.ITransport):
    """A transport that negotiates Telnet options for its protocol."""

    protocol = Attribute("The ITelnetProtocol on top of this transport.")

    def do(option: bytes) -> Deferred[bool]:
        """Ask the peer to enable ``option`` on its side; fires True or fails."""

    def dont(option: bytes) -> Deferred[bool]:
        """Demand that the peer disable ``option`` on its side."""

    def will(option: bytes) -> Deferred[bool]:
        """Offer to enable ``option`` on our side; fires True or fails OptionRefused."""

    def wont(option: bytes) -> Deferred[bool]:
        """Announce that ``option`` is now off on our side."""

    def requestNegotiation(about: bytes, data: bytes) -> None:
        """Send a subnegotiation (IAC SB about data IAC SE) for ``about``."""


@implementer(ITelnetProtocol)
class TelnetProtocol(Protocol):
    """An ITelnetProtocol that accepts no option and ignores what it does not know."""

    def unhandledCommand(self, command: bytes, argument: bytes | None) -> None:
        pass

    def unhandledSubnegotiation(self, command: bytes, data: list[bytes]) -> None:
        pass

    def enableLocal(self, option: bytes) -> bool:
        return False

    def enableRemote(self, option: bytes) -> bool:
        return False

    def disableLocal(self, option: bytes) -> None:
        pass

    def disableRemote(self, option: bytes) -> None:
        pass


class _Side:
    """One side of one option: ``state`` "no" or "yes", and our request in flight."""

    __slots__ = ("negotiating", "onResult", "queued", "state")

    def __init__(self) -> None:
        self.state = "no"
        self.negotiating = False
        self.onResult: Deferred[bool] | None = None
        # The opposite request asked for while ours was in flight: the state it wants,
        # its verb and its Deferred (RFC 1143's queue bit).
        self.queued: tuple[str, bytes, Deferred[bool]] | None = None

    def finish(self, refused: Exception | None = None) -> None:
        """Our request got its answer: fire its Deferred."""
        self.negotiating = False
        result, self.onResult = self.onResult, None
        if result is not None:
            if refused is None:
                result.callback(True)
            else:
                result.errback(Failure(refused))


class _OptionState:
    """Where one option stands on our side (``us``) and the peer's (``him``)."""

    __slots__ = ("him", "us")

    def __init__(self) -> None:
        self.us = _Side()
        self.him = _Side()

    def __repr__(self) -> str:
        return f"<_OptionState us={self.us.state} him={self.him.state}>"


class Telnet(Protocol):
    """The Telnet layer over a stream transport: parsing, commands and negotiation.

    Subclass it and override ``applicationDataReceived``, or use TelnetTransport to
    put an ITelnetProtocol on top. ``commandMap`` maps a command (one byte) to a
    handler taking the command's argument (None); ``negotiationMap`` maps an option
    to a handler of its subnegotiation data (a list of one-byte ``bytes``, as in
    Twisted). ``maxSubnegotiation`` bounds what a peer can make us buffer.
    """

    maxSubnegotiation = 4096

    def __init__(self) -> None:
        self.options: dict[bytes, _OptionState] = {}
        self.commandMap: dict[bytes, Callable[[bytes | None], object]] = {}
        self.negotiationMap: dict[bytes, Callable[[list[bytes]], object]] = {}
        self._parser = codec.TelnetParser(self.maxSubnegotiation)
        self._verbHandlers = {
            codec.WILL: self.telnet_WILL,
            codec.WONT: self.telnet_WONT,
            codec.DO: self.telnet_DO,
            codec.DONT: self.telnet_DONT,
        }

    # -- receiving --------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        for event in self._parser.feed(data):
            if isinstance(event, bytes):
                self.applicationDataReceived(event)
            elif isinstance(event, codec.Negotiation):
                self._verbHandlers[event.verb](bytes((event.option,)))
            elif isinstance(event, codec.Command):
                self.commandReceived(bytes((event.command,)), None)
            elif isinstance(event, codec.Subnegotiation):
                self.negotiate([bytes((event.option,))] + [bytes((b,)) for b in event.data])
            else:
                _log.warn(
                    "dropped a telnet subnegotiation of option {option} longer than {limit} bytes",
                    option=event.option,
                    limit=self.maxSubnegotiation,
                )

    def applicationDataReceived(self, data: bytes) -> None:
        """Application data (commands removed, line ends normalised); override this."""

    def commandReceived(self, command: bytes, argument: bytes | None) -> None:
        handler = self.commandMap.get(command)
        if handler is None:
            self.unhandledCommand(command, argument)
        else:
            handler(argument)

    def unhandledCommand(self, command: bytes, argument: bytes | None) -> None:
        """A command without a handler in ``commandMap``; ignored by default."""

    def negotiate(self, data: list[bytes]) -> None:
        """A subnegotiation: ``data[0]`` is the option, the rest its data bytes."""
        handler = self.negotiationMap.get(data[0])
        if handler is None:
            self.unhandledSubnegotiation(data[0], data[1:])
        else:
            handler(data[1:])

    def unhandledSubnegotiation(self, command: bytes, data: list[bytes]) -> None:
        """A subnegotiation without a handler in ``negotiationMap``; ignored by default."""

    # -- what the application decides (TelnetTransport asks its protocol) ---------------

    def enableLocal(self, option: bytes) -> bool:
        return False

    def enableRemote(self, option: bytes) -> bool:
        return False

    def disableLocal(self, option: bytes) -> None:
        pass

    def disableRemote(self, option: bytes) -> None:
        pass

    # -- negotiation (RFC 1143) ------------------------------------------------------------

    def getOptionState(self, opt: bytes) -> _OptionState:
        state = self.options.get(opt)
        if state is None:
            state = self.options[opt] = _OptionState()
        return state

    def _send(self, verb: bytes, option: bytes) -> None:
        self.transport.write(IAC + verb + option)

    def telnet_WILL(self, option: bytes) -> None:
        """The peer offers (or agrees) to enable ``option`` on its side."""
        self._enableReceived(self.getOptionState(option).him, option, self.enableRemote, DO, DONT)

    def telnet_WONT(self, option: bytes) -> None:
        """The peer refuses, or turns off, ``option`` on its side."""
        self._disableReceived(self.getOptionState(option).him, option, self.disableRemote, DONT)

    def telnet_DO(self, option: bytes) -> None:
        """The peer asks us (or agrees) to enable ``option`` on our side."""
        self._enableReceived(self.getOptionState(option).us, option, self.enableLocal, WILL, WONT)

    def telnet_DONT(self, option: bytes) -> None:
        """The peer refuses, or demands we turn off, ``option`` on our side."""
        self._disableReceived(self.getOptionState(option).us, option, self.disableLocal, WONT)

    def _enableReceived(
        self, side: _Side, option: bytes, allowed: Callable[[bytes], bool], yes: bytes, no: bytes
    ) -> None:
        """WILL or DO came for ``side``: the answer to our request, or a request."""
        if side.negotiating and side.state == "no":
            side.state = "yes"  # the answer to our DO (or WILL)
            side.finish()
            self._sendQueued(side, option)
        elif side.negotiating:  # our DONT (WONT) answered by WILL (DO): not allowed
            side.state = "no"
            side.finish(OptionRefused(option))
            self._sendQueued(side, option)
        elif side.state == "no":
            if allowed(option):
                side.state = "yes"
                self._send(yes, option)
            else:
                self._send(no, option)
        # Already on: say nothing, or two Telnets would acknowledge each other forever.

    def _disableReceived(
        self, side: _Side, option: bytes, disabled: Callable[[bytes], None], no: bytes
    ) -> None:
        """WONT or DONT came for ``side``: a refusal, an answer, or a demand."""
        if side.negotiating and side.state == "no":
            side.finish(OptionRefused(option))  # it refused our DO (or WILL)
            self._sendQueued(side, option)
        elif side.negotiating:
            side.state = "no"  # the answer to our DONT (or WONT)
            side.finish()
            self._sendQueued(side, option)
        elif side.state == "yes":
            side.state = "no"
            self._send(no, option)
            disabled(option)

    def _request(self, side: _Side, wanted: str, verb: bytes, option: bytes) -> Deferred[bool]:
        if side.negotiating:
            inFlight = "yes" if side.state == "no" else "no"
            if wanted == inFlight or side.queued is not None:
                return fail(AlreadyNegotiating(option))
            queued: Deferred[bool] = Deferred()
            side.queued = (wanted, verb, queued)
            return queued
        if side.state == wanted:
            return fail((AlreadyEnabled if wanted == "yes" else AlreadyDisabled)(option))
        side.negotiating = True
        side.onResult = Deferred()
        result = side.onResult
        self._send(verb, option)
        return result

    def _sendQueued(self, side: _Side, option: bytes) -> None:
        """Our request was answered: send the opposite one asked for meanwhile, if any
        (already where it wants to be, when the peer refused ours: done at once)."""
        if side.queued is None:
            return
        wanted, verb, queued = side.queued
        side.queued = None
        if side.state == wanted:
            queued.callback(True)
            return
        side.negotiating = True
        side.onResult = queued
        self._send(verb, option)

    def will(self, option: bytes) -> Deferred[bool]:
        return self._request(self.getOptionState(option).us, "yes", WILL, option)

    def wont(self, option: bytes) -> Deferred[bool]:
        return self._request(self.getOptionState(option).us, "no", WONT, option)

    def do(self, option: bytes) -> Deferred[bool]:
        return self._request(self.getOptionState(option).him, "yes", DO, option)

    def dont(self, option: bytes) -> Deferred[bool]:
        return self._request(self.getOptionState(option).him, "no", DONT, option)

    def requestNegotiation(self, about: bytes, data: bytes) -> None:
        self.transport.write(codec.quoteSubnegotiation(ord(about), data))

    def connectionLost(self, reason: object = connectionDone) -> None:
        for state in self.options.values():
            for side in (state.us, state.him):
                lost = error.ConnectionLost("the telnet connection was lost")
                if side.onResult is not None:
                    side.finish(lost)
                if side.queued is not None:
                    queued = side.queued[2]
                    side.queued = None
                    queued.errback(Failure(lost))


@implementer(ITelnetTransport)
class TelnetTransport(Telnet):
    """A Telnet that is the transport of an ITelnetProtocol made at connection time.

    ``TelnetTransport(factory, *args, **kwargs)`` calls ``factory(*args, **kwargs)``
    when the connection is made and hands the result the connection; its writes get
    their 255 bytes doubled, and what Telnet decides by default it asks of it.
    """

    disconnecting = False
    protocol: Any = None

    def __init__(
        self, protocolFactory: Callable[..., Any] | None = None, *a: Any, **kw: Any
    ) -> None:
        super().__init__()
        self.protocolFactory = protocolFactory
        self.protocolArgs = a
        self.protocolKwArgs = kw

    def connectionMade(self) -> None:
        if self.protocolFactory is not None:
            self.protocol = self.protocolFactory(*self.protocolArgs, **self.protocolKwArgs)
            try:
                factory = self.factory
            except AttributeError:
                pass
            else:
                self.protocol.factory = factory
            self.protocol.makeConnection(self)

    def applicationDataReceived(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def unhandledCommand(self, command: bytes, argument: bytes | None) -> None:
        self.protocol.unhandledCommand(command, argument)

    def unhandledSubnegotiation(self, command: bytes, data: list[bytes]) -> None:
        self.protocol.unhandledSubnegotiation(command, data)

    def enableLocal(self, option: bytes) -> bool:
        return bool(self.protocol.enableLocal(option))

    def enableRemote(self, option: bytes) -> bool:
        return bool(self.protocol.enableRemote(option))

    def disableLocal(self, option: bytes) -> None:
        self.protocol.disableLocal(option)

    def disableRemote(self, option: bytes) -> None:
        self.protocol.disableRemote(option)

    # -- the transport side, for the protocol on top --------------------------------------

    def write(self, data: bytes) -> None:
        self.transport.write(codec.quoteData(data))

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        self.transport.write(codec.quoteData(b"".join(seq)))

    def loseConnection(self) -> None:
        self.disconnecting = True
        self.transport.loseConnection()

    def abortConnection(self) -> None:
        self.disconnecting = True
        self.transport.abortConnection()

    def getHost(self) -> Any:
        return self.transport.getHost()

    def getPeer(self) -> Any:
        return self.transport.getPeer()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()

    def connectionLost(self, reason: object = connectionDone) -> None:
        super().connectionLost(reason)
        if self.protocol is not None:
            try:
                self.protocol.connectionLost(reason)
            finally:
                del self.protocol


class StatefulTelnetProtocol(LineReceiver, TelnetProtocol):
    """Lines to ``telnet_<state>(line)``; a handler returns the next state (or None).

    Lines end with LF (a CR before it is removed), which takes CR LF from NVT peers
    and bare LF from raw clients alike.
    """

    delimiter = b"\n"
    state = "Discard"

    def lineReceived(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        handler = getattr(self, "telnet_" + self.state, None)
        if handler is None:
            _log.warn("no telnet_{state} handler: line dropped", state=self.state)
            return
        newState = handler(line)
        if newState is not None:
            self.state = newState

    def telnet_Discard(self, line: bytes) -> None:
        """The state that ignores every line."""


class AuthenticatingTelnetProtocol(StatefulTelnetProtocol):
    """Ask for a user name and a password, log in through ``portal``, then hand over.

    The avatar asked for is an ITelnetProtocol; after a good login it becomes the
    connection's protocol (it is given the transport, and the lines after the
    password go to it). Echo is turned off (WILL ECHO) while the password is typed.
    After ``maxAttempts`` failed logins the connection is closed.
    """

    maxAttempts = 3

    def __init__(self, portal: Any) -> None:
        self.portal = portal
        self.username = b""
        self.failedAttempts = 0
        self.logout: Callable[[], object] | None = None

    def connectionMade(self) -> None:
        self.transport.write(b"Username: ")
        self.state = "User"

    def telnet_User(self, line: bytes) -> str:
        self.username = line
        self.transport.will(ECHO).addErrback(lambda _: None)
        self.transport.write(b"Password: ")
        return "Password"

    def telnet_Password(self, line: bytes) -> None:
        # Lines typed while the login is checked are dropped; the outcome (which may
        # come at once) sets the next state.
        self.state = "Discard"
        credentials = UsernamePassword(self.username, line)
        d = self.portal.login(credentials, None, ITelnetProtocol)
        d.addCallbacks(self._loggedIn, self._loginFailed)

    def _echoBack(self) -> None:
        if self.transport.getOptionState(ECHO).us.state == "yes":
            self.transport.wont(ECHO).addErrback(lambda _: None)

    def _loggedIn(self, result: tuple[Any, Any, Callable[[], object]]) -> None:
        _, avatar, self.logout = result
        self._echoBack()
        self.transport.write(b"\r\n")
        self.transport.protocol = avatar
        avatar.makeConnection(self.transport)

    def _loginFailed(self, reason: Failure) -> None:
        self._echoBack()
        self.failedAttempts += 1
        self.transport.write(b"\r\nAuthentication failed\r\n")
        if self.failedAttempts >= self.maxAttempts:
            self.transport.loseConnection()
            return
        self.transport.write(b"Username: ")
        self.state = "User"

    def connectionLost(self, reason: object = connectionDone) -> None:
        if self.logout is not None:
            logout, self.logout = self.logout, None
            logout()


class TelnetBootstrapProtocol(TelnetProtocol):
    """Negotiate a terminal, then run ``protocolFactory(*a, **kw)`` over it.

    It offers to echo and to suppress go-ahead, asks the client for its window size
    (NAWS, RFC 1073) and, if it offers linemode, asks for the edit mode. Each window
    size the client reports goes to the protocol's ``terminalSize(width, height)``
    when it has one. Everything else goes straight through to the protocol.
    """

    protocol: Any = None

    def __init__(self, protocolFactory: Callable[..., Any], *a: Any, **kw: Any) -> None:
        self.protocolFactory = protocolFactory
        self.protocolArgs = a
        self.protocolKwArgs = kw

    def connectionMade(self) -> None:
        transport = self.transport
        transport.negotiationMap[NAWS] = self.telnet_NAWS
        for option in (ECHO, SGA):
            transport.will(option).addErrback(lambda _: None)
        for option in (NAWS, SGA):
            transport.do(option).addErrback(lambda _: None)
        self.protocol = self.protocolFactory(*self.protocolArgs, **self.protocolKwArgs)
        self.protocol.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def enableLocal(self, option: bytes) -> bool:
        return option in (ECHO, SGA)

    def enableRemote(self, option: bytes) -> bool:
        if option == LINEMODE:
            self.transport.requestNegotiation(LINEMODE, _LINEMODE_MODE + _LINEMODE_EDIT)
            return True
        return option in (NAWS, SGA)

    def telnet_NAWS(self, data: list[bytes]) -> None:
        if len(data) != 4:
            _log.warn("ignored a window size report of {n} bytes (NAWS has 4)", n=len(data))
            return
        width, height = struct.unpack("!HH", b"".join(data))
        report = getattr(self.protocol, "terminalSize", None)
        if report is not None:
            report(width, height)

    def connectionLost(self, reason: object = connectionDone) -> None:
        if self.protocol is not None:
            self.protocol.connectionLost(reason)
