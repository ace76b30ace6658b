"""The relay queue: mail kept on disk until another server takes it, with retries.

``Queue`` keeps each message as two files in one directory: ``ID-D`` (the message)
and ``ID-H`` (its envelope and retry state, JSON), both written to temporary names,
fsynced and renamed, so a crash leaves either a whole message or none.
``SmartHostSMTPRelayingManager`` sends what is waiting, either all through one smart
host or to each recipient domain's mail exchanger (``MXCalculator``, over any
``IResolver`` that has ``lookupMailExchange``), at most ``maxConnections`` at once
with ``maxMessagesPerConnection`` messages each. A recipient refused for good (5xx),
or still undelivered when the ``deadline`` passes, gets its sender a DSN bounce
(``bounce.generateBounce``); a temporary failure waits for the next of
``retryDelays``. ``RelayStateHelper`` runs ``checkState`` every few seconds.
The queue itself is in ``_relayqueue``.
Tests: tests/mail/test_relay_queue.py, test_relay_manager.py (fake resolvers and
torsion.names.client, our own SMTP server as the next hop).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, BinaryIO

from torsion.application.internet import TimerService
from torsion.internet.defer import Deferred, DeferredList, succeed
from torsion.internet.protocol import ClientFactory
from torsion.logger import Logger
from torsion.mail import bounce
from torsion.mail._relayqueue import Queue
from torsion.mail._smtpclient import ESMTPClient, SMTPClient, _globalReactor
from torsion.mail._smtpcore import (
    SMTPClientError,
    SMTPConnectError,
    _asBytes,
    hostName,
)
from torsion.python.failure import Failure

__all__ = [
    "CanonicalNameChainTooLong",
    "CanonicalNameLoop",
    "ESMTPManagedRelayer",
    "ESMTPManagedRelayerFactory",
    "MXCalculator",
    "MXLookupError",
    "Queue",
    "RelayStateHelper",
    "SMTPManagedRelayer",
    "SMTPManagedRelayerFactory",
    "SmartHostESMTPRelayingManager",
    "SmartHostSMTPRelayingManager",
]

_log = Logger("torsion.mail.relaymanager")

# The longest a message is kept trying, in seconds, before it is bounced.
DEFAULT_DEADLINE = 5 * 24 * 3600
# Seconds to wait after the 1st, 2nd, ... failed attempt (the last one repeats).
DEFAULT_RETRY_DELAYS = (60, 300, 900, 1800, 3600, 7200, 14400)


# -- MX lookups --------------------------------------------------------------------------


class MXLookupError(Exception):
    """No mail exchanger could be found; ``permanent`` says whether to give up."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class CanonicalNameLoop(MXLookupError):
    """The domain's CNAME records point back to themselves."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class CanonicalNameChainTooLong(MXLookupError):
    """The domain's CNAME records go on longer than we follow."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class MXCalculator:
    """Finds the mail exchanger to use for a domain, avoiding those that just failed.

    Args:
        resolver: an IResolver with ``lookupMailExchange`` (default:
            ``torsion.names.client.createResolver()``).
        clock: the IReactorTime that times the bad marks (default: the reactor).
    """

    # Seconds a mail exchanger marked bad is avoided.
    timeOutBadMX = 60 * 60
    # With no MX records, use the domain itself (RFC 5321 5.1, the implicit MX).
    fallbackToDomain = True

    def __init__(self, resolver: Any = None, clock: Any = None) -> None:
        if resolver is None:
            from torsion.names import client

            resolver = client.createResolver()
        if clock is None:
            clock = _globalReactor()
        self.resolver = resolver
        self.clock = clock
        self.badMXs: dict[bytes, float] = {}

    def markBad(self, mx: Any) -> None:
        """Avoid ``mx`` (a host name) for ``timeOutBadMX`` seconds."""
        self.badMXs[_asBytes(str(mx), "mx").lower()] = self.clock.seconds() + self.timeOutBadMX

    def markGood(self, mx: Any) -> None:
        """``mx`` works again."""
        self.badMXs.pop(_asBytes(str(mx), "mx").lower(), None)

    def _isBad(self, name: bytes) -> bool:
        until = self.badMXs.get(name.lower())
        if until is None:
            return False
        if until <= self.clock.seconds():
            del self.badMXs[name.lower()]
            return False
        return True

    def getMX(self, domain: bytes | str, maximumCanonicalChainLength: int = 3) -> Deferred[Any]:
        """Return a Deferred firing with the best ``Record_MX`` for ``domain``.

        It fails with MXLookupError (permanent for a null MX or a CNAME loop) or with
        the resolver's error (``DNSNameError``: the domain does not exist).
        """
        name = _asBytes(domain, "domain").rstrip(b".").lower()
        return self._lookup(name, name, [name], maximumCanonicalChainLength)

    def _lookup(
        self, original: bytes, name: bytes, seen: list[bytes], chainLeft: int
    ) -> Deferred[Any]:
        d: Deferred[Any] = self.resolver.lookupMailExchange(name)
        return d.addCallback(self._gotRecords, original, name, seen, chainLeft)

    def _gotRecords(
        self, result: Any, original: bytes, name: bytes, seen: list[bytes], chainLeft: int
    ) -> Any:
        from torsion.names import dns

        answers = result[0] if isinstance(result, tuple) else result
        exchanges = []
        aliases: dict[bytes, bytes] = {}
        for record in answers:
            owner = str(record.name).encode("idna").lower() if record.name else b""
            if record.type == dns.MX:
                exchanges.append(record.payload)
            elif record.type == dns.CNAME:
                aliases[owner] = str(record.payload.name).encode("idna").lower()
        if exchanges:
            exchanges.sort(key=lambda mx: mx.preference)
            if len(exchanges) == 1 and not str(exchanges[0].name):
                raise MXLookupError(
                    f"{original.decode()} accepts no mail (a null MX, RFC 7505)", permanent=True
                )
            for mx in exchanges:
                if str(mx.name) and not self._isBad(str(mx.name).encode("idna")):
                    return mx
            usable = [mx for mx in exchanges if str(mx.name)]
            return min(
                usable, key=lambda mx: self.badMXs.get(str(mx.name).encode("idna").lower(), 0)
            )
        target = aliases.get(name)
        if target is not None:
            if target in seen:
                chain = b" -> ".join([*seen, target]).decode()
                raise CanonicalNameLoop(f"the CNAME records of {original.decode()} loop: {chain}")
            if chainLeft <= 0:
                raise CanonicalNameChainTooLong(
                    f"the CNAME chain of {original.decode()} is too long"
                )
            return self._lookup(original, target, [*seen, target], chainLeft - 1)
        if self.fallbackToDomain:
            return dns.Record_MX(0, name)
        raise MXLookupError(f"{original.decode()} has no MX records")


# -- the relaying connections ------------------------------------------------------------


class ManagedRelayerMixin:
    """A client connection that sends the queue's messages and reports each outcome."""

    factory: Any
    _current: str | None = None

    def _setMessages(self, messages: list[str], manager: Any) -> None:
        self.messages = list(messages)
        self.manager = manager
        self._current = None

    def getMailFrom(self) -> Any:
        if not self.messages:
            self._current = None
            return None
        self._current = self.messages.pop(0)
        state = self.manager.queue.getState(self._current)
        self._state = state
        return state["from"].encode("utf-8", "surrogateescape")

    def getMailTo(self) -> list[bytes]:
        return [to.encode("utf-8", "surrogateescape") for to in self._state["to"]]

    def getMailData(self) -> BinaryIO:
        assert self._current is not None
        return open(self.manager.queue.getPath(self._current) + "-D", "rb")

    def sentMail(
        self,
        code: int,
        resp: bytes,
        numOk: int,
        addresses: list[tuple[bytes, int, bytes]],
        log: Any,
    ) -> None:
        message, self._current = self._current, None
        if message is not None:
            self.manager.notifySuccess(self.factory, message, addresses)

    def sendError(self, exc: SMTPClientError) -> None:
        message, self._current = self._current, None
        if message is not None:
            self.manager.notifyFailure(self.factory, message, exc)
            if not exc.isFatal:
                SMTPClient.smtpTransferReady(self)  # type: ignore[arg-type]
                return
        else:
            self.factory.lastError = exc
        SMTPClient.sendError(self, exc)  # type: ignore[arg-type]


class SMTPManagedRelayer(ManagedRelayerMixin, SMTPClient):
    """Relays queued messages over plain SMTP."""

    def __init__(self, messages: list[str], manager: Any, *args: Any, **kw: Any) -> None:
        SMTPClient.__init__(self, *args, **kw)
        self._setMessages(messages, manager)


class ESMTPManagedRelayer(ManagedRelayerMixin, ESMTPClient):
    """Relays queued messages over ESMTP (STARTTLS when offered, AUTH if configured)."""

    def __init__(self, messages: list[str], manager: Any, *args: Any, **kw: Any) -> None:
        ESMTPClient.__init__(self, *args, **kw)
        self._setMessages(messages, manager)


class SMTPManagedRelayerFactory(ClientFactory):
    """Makes the relayer of one connection; tells the manager how the connection ended."""

    protocol: Any = SMTPManagedRelayer

    def __init__(self, messages: list[str], manager: Any, *args: Any, **kw: Any) -> None:
        self.messages = messages
        self.manager = manager
        self.pArgs = args
        self.pKwArgs = kw
        self.lastError: SMTPClientError | None = None
        self.host: str | None = None
        self._ended = False

    def buildProtocol(self, addr: Any) -> Any:
        protocol = self.protocol(self.messages, self.manager, *self.pArgs, **self.pKwArgs)
        protocol.factory = self
        manager = self.manager
        protocol.timeout = manager.timeout
        if manager.reactor is not None:
            protocol.callLater = manager.reactor.callLater
        if manager.username is not None and isinstance(protocol, ESMTPClient):
            from torsion.mail._smtpauth import (
                CramMD5ClientAuthenticator,
                LOGINAuthenticator,
                PLAINAuthenticator,
            )

            for auth in (CramMD5ClientAuthenticator, LOGINAuthenticator, PLAINAuthenticator):
                protocol.registerAuthenticator(auth(manager.username))
        if isinstance(protocol, ESMTPClient):
            protocol.requireTransportSecurity = manager.requireTransportSecurity
        return protocol

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self._end(
            SMTPConnectError(-1, str(reason.value).encode("utf-8", "replace"), retry=True),
            connected=False,
        )

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        self._end(self.lastError, connected=True)

    def _end(self, error: SMTPClientError | None, connected: bool) -> None:
        if not self._ended:
            self._ended = True
            self.manager.notifyDone(self, error, connected)


class ESMTPManagedRelayerFactory(SMTPManagedRelayerFactory):
    """Makes ESMTPManagedRelayer connections."""

    protocol = ESMTPManagedRelayer

    def __init__(
        self,
        messages: list[str],
        manager: Any,
        secret: bytes | None,
        contextFactory: Any,
        *args: Any,
        **kw: Any,
    ) -> None:
        super().__init__(messages, manager, secret, contextFactory, *args, **kw)


# -- the manager -------------------------------------------------------------------------


class SmartHostSMTPRelayingManager:
    """Sends the queue's messages on, retrying with back-off, bouncing what fails.

    Args:
        queue: the Queue.
        maxConnections: the most connections open at once.
        maxMessagesPerConnection: the most messages sent over one connection.
        smartHostAddr: ``(host, port)`` to send everything through; None looks up
            each recipient domain's MX (with ``resolver``).
        resolver: the IResolver for MX lookups (default: torsion.names.client's).
        reactor: connects and keeps time (default: the global reactor).
        retryDelays: seconds to wait after each failed attempt (the last repeats).
        deadline: seconds after which an undelivered message is bounced.
        heloName: the name given in EHLO.
        contextFactory: TLS client options for STARTTLS (None: no STARTTLS).
        username, password: AUTH credentials for the smart host.
        requireTransportSecurity: as ESMTPClient's (None: STARTTLS when offered).
        timeout: seconds to wait for each reply.
    """

    factory: Any = SMTPManagedRelayerFactory
    PORT = 25
    mxcalc: MXCalculator | None = None

    def __init__(
        self,
        queue: Queue,
        maxConnections: int = 2,
        maxMessagesPerConnection: int = 10,
        *,
        smartHostAddr: tuple[str, int] | None = None,
        resolver: Any = None,
        reactor: Any = None,
        retryDelays: Iterable[float] = DEFAULT_RETRY_DELAYS,
        deadline: float = DEFAULT_DEADLINE,
        heloName: bytes | str | None = None,
        contextFactory: Any = None,
        username: bytes | str | None = None,
        password: bytes | str | None = None,
        requireTransportSecurity: bool | None = None,
        timeout: float | None = 300,
    ) -> None:
        if reactor is None:
            reactor = _globalReactor()
        self.queue = queue
        self.maxConnections = maxConnections
        self.maxMessagesPerConnection = maxMessagesPerConnection
        self.smartHostAddr = smartHostAddr
        self.resolver = resolver
        self.reactor = reactor
        self.retryDelays = tuple(retryDelays) or (60,)
        self.deadline = deadline
        self.heloName = _asBytes(heloName, "heloName") if heloName is not None else hostName()
        self.contextFactory = contextFactory
        self.username = username
        self.password = password
        self.requireTransportSecurity = requireTransportSecurity
        self.timeout = timeout
        self.managed: dict[Any, list[str]] = {}
        self._checking: Deferred[Any] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.queue!r}, {len(self.managed)} connections>"

    def _now(self) -> float:
        return float(self.reactor.seconds())

    # -- one pass ------------------------------------------------------------------------

    def checkState(self) -> Deferred[None]:
        """Bounce what is past its deadline and start sending what is due.

        Returns a Deferred that fires once this pass has started its connections;
        it never fails (errors are logged), so a RelayStateHelper keeps calling it.
        """
        if self._checking is not None:
            return succeed(None)
        try:
            due = self._dueMessages()
        except Exception:
            _log.failure("relay: reading the queue failed")
            return succeed(None)
        if not due:
            return succeed(None)
        if self.smartHostAddr is not None:
            self._start({self.smartHostAddr: due})
            return succeed(None)
        return self._checkStateMX(due)

    def _dueMessages(self) -> list[str]:
        queue = self.queue
        queue.readDirectory()
        clock = self._now()
        due = []
        for message in queue.getWaiting():
            try:
                state = queue.getState(message)
            except (OSError, ValueError):
                _log.warn(
                    "relay: the envelope of {messageID} is unreadable; skipped", messageID=message
                )
                continue
            if clock - state["created"] > self.deadline:
                self._bounce(
                    message,
                    state,
                    [
                        (to, "4.4.7", state["lastError"] or "delivery time expired")
                        for to in state["to"]
                    ],
                    expired=True,
                )
                continue
            if state["next"] <= clock or state["next"] > clock + max(self.retryDelays) * 2:
                due.append(message)
        return due

    def _checkStateMX(self, due: list[str]) -> Deferred[None]:
        if self.mxcalc is None:
            self.mxcalc = MXCalculator(self.resolver, self.reactor)
        byDomain: dict[str, list[str]] = {}
        for message in [part for one in due for part in self.queue.splitByDomain(one)]:
            state = self.queue.getState(message)
            domain = state["to"][0].rpartition("@")[2].lower() if state["to"] else ""
            byDomain.setdefault(domain, []).append(message)
        groups: dict[tuple[str, int], list[str]] = {}
        lookups = []
        for domain, messages in byDomain.items():
            d = self.mxcalc.getMX(domain)
            d.addCallbacks(
                self._gotMX,
                self._noMX,
                callbackArgs=(messages, groups),
                errbackArgs=(domain, messages),
            )
            d.addErrback(self._lookupFailed)
            lookups.append(d)
        checking = self._checking = DeferredList(lookups)

        def started(_: object) -> None:
            self._checking = None
            self._start(groups)

        return checking.addCallback(started)

    def _gotMX(
        self, mx: Any, messages: list[str], groups: dict[tuple[str, int], list[str]]
    ) -> None:
        groups.setdefault((str(mx.name), self.PORT), []).extend(messages)

    def _lookupFailed(self, failure: Failure) -> None:
        _log.failure("relay: handling an MX lookup failed", failure)

    def _noMX(self, failure: Failure, domain: str, messages: list[str]) -> None:
        error = failure.value
        from torsion.names.error import DNSNameError

        permanent = getattr(error, "permanent", False) or isinstance(error, DNSNameError)
        reason = f"no mail exchanger for {domain}: {error}"
        for message in messages:
            self._failed(message, None, reason, permanent)

    def _start(self, groups: dict[tuple[str, int], list[str]]) -> None:
        for (host, port), messages in groups.items():
            while messages and len(self.managed) < self.maxConnections:
                batch, messages[:] = (
                    messages[: self.maxMessagesPerConnection],
                    messages[self.maxMessagesPerConnection :],
                )
                for message in batch:
                    if message in self.queue.waiting:
                        self.queue.setRelaying(message)
                factory = self._makeFactory(batch)
                factory.host = host
                self.managed[factory] = list(batch)
                self.reactor.connectTCP(host, port, factory)

    def _makeFactory(self, messages: list[str]) -> Any:
        return self.factory(messages, self, self.heloName)

    # -- outcomes ------------------------------------------------------------------------

    def notifySuccess(
        self, factory: Any, message: str, addresses: list[tuple[bytes, int, bytes]]
    ) -> None:
        """A message was taken: recipients refused for good bounce, 4xx ones retry."""
        self._forget(factory, message)
        state = self.queue.getState(message)
        later = []
        refused = []
        for address, code, resp in addresses:
            to = address.decode("utf-8", "surrogateescape")
            if 400 <= code < 500:
                later.append((to, resp.decode("utf-8", "replace")))
            elif code >= 500:
                refused.append((to, "5.0.0", f"{code} {resp.decode('utf-8', 'replace')}"))
        if refused:
            self._bounce(message, state, refused, expired=False, keep=bool(later))
        if later:
            state["to"] = [to for to, _ in later]
            self._retryLater(message, state, later[0][1])
        else:
            self.queue.done(message)
        if self.mxcalc is not None and factory.host is not None:
            self.mxcalc.markGood(factory.host)

    def notifyFailure(self, factory: Any, message: str, error: SMTPClientError) -> None:
        """The server refused the whole message (or the connection failed sending it)."""
        self._forget(factory, message)
        permanent = error.code >= 500 and not error.retry
        reason = str(error).split("\n")[0]
        addresses = error.addresses or []
        if addresses and permanent:
            state = self.queue.getState(message)
            refused = [
                (
                    a.decode("utf-8", "surrogateescape"),
                    "5.0.0",
                    f"{c} {r.decode('utf-8', 'replace')}",
                )
                for a, c, r in addresses
            ]
            self._bounce(message, state, refused, expired=False)
            self.queue.done(message)
            return
        self._failed(message, factory, reason, permanent)

    def notifyDone(
        self, factory: Any, error: SMTPClientError | None = None, connected: bool = True
    ) -> None:
        """A connection ended: what it did not get to send is tried again later."""
        left = self.managed.pop(factory, [])
        if not connected and self.mxcalc is not None and factory.host is not None:
            self.mxcalc.markBad(factory.host)
        reason = (
            str(error).split("\n")[0]
            if error is not None
            else "the connection ended before the message was sent"
        )
        permanent = error is not None and error.code >= 500 and not error.retry
        for message in left:
            self._failed(message, factory, reason, permanent)

    def notifyNoConnection(self, factory: Any) -> None:
        """The connection could not be made (Twisted's name for it)."""
        self.notifyDone(
            factory, SMTPConnectError(-1, b"could not connect", retry=True), connected=False
        )

    def _forget(self, factory: Any, message: str) -> None:
        messages = self.managed.get(factory)
        if messages is not None and message in messages:
            messages.remove(message)

    def _failed(self, message: str, factory: Any, reason: str, permanent: bool) -> None:
        try:
            state = self.queue.getState(message)
        except OSError:
            self.queue.relayed.pop(message, None)
            return
        if permanent:
            self._bounce(
                message, state, [(to, "5.0.0", reason) for to in state["to"]], expired=False
            )
            self.queue.done(message)
        else:
            self._retryLater(message, state, reason)

    def _retryLater(self, message: str, state: dict[str, Any], reason: str) -> None:
        attempts = int(state.get("attempts", 0))
        delay = self.retryDelays[min(attempts, len(self.retryDelays) - 1)]
        state["attempts"] = attempts + 1
        state["next"] = self._now() + delay
        state["lastError"] = reason
        self.queue.setState(message, state)
        self.queue.setWaiting(message)
        _log.info(
            "relay: {messageID} to {to} failed ({reason}); attempt {n} again in {delay} s",
            messageID=message,
            to=", ".join(state["to"]),
            reason=reason,
            n=attempts + 2,
            delay=delay,
        )

    def _bounce(
        self,
        message: str,
        state: dict[str, Any],
        failures: list[tuple[str, str, str]],
        expired: bool,
        keep: bool = False,
    ) -> None:
        sender = state["from"]
        if not sender:
            _log.warn(
                "relay: the bounce {messageID} could not be delivered to {to} ({reason}); dropped",
                messageID=message,
                to=", ".join(state["to"]),
                reason=failures[0][2] if failures else "",
            )
        else:
            with open(self.queue.getPath(message) + "-D", "rb") as original:
                _, to, data = bounce.generateBounce(
                    original,
                    sender,
                    [(a, s, d) for a, s, d in failures],
                    transcript=state.get("lastError", ""),
                    reportingMTA=self.heloName,
                    status="4.4.7" if expired else "5.0.0",
                )
            bounceID = self.queue.addFromBytes(b"", [to], data)
            _log.info(
                "relay: {messageID} bounced to {sender} as {bounce} ({count} recipient(s))",
                messageID=message,
                sender=sender,
                bounce=bounceID,
                count=len(failures),
            )
        if not keep:
            self.queue.done(message)


class SmartHostESMTPRelayingManager(SmartHostSMTPRelayingManager):
    """The same over ESMTP: STARTTLS when ``contextFactory`` is given, AUTH if set."""

    factory = ESMTPManagedRelayerFactory

    def _makeFactory(self, messages: list[str]) -> Any:
        secret = None if self.password is None else _asBytes(self.password, "password")
        return self.factory(messages, self, secret, self.contextFactory, self.heloName)


class RelayStateHelper(TimerService):
    """A service that runs ``manager.checkState`` every ``delay`` seconds."""

    def __init__(self, manager: SmartHostSMTPRelayingManager, delay: float) -> None:
        super().__init__(delay, manager.checkState)
        self.manager = manager
        self.clock = manager.reactor
