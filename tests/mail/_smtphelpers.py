"""What the SMTP tests share: an in-memory delivery, servers on 127.0.0.1, threads.

``MemoryDelivery`` accepts every sender and the recipients of its ``domains`` (others
get 550), and keeps each message's lines; ``delay`` makes its answers Deferreds fired
later, to test pipelining behind a slow delivery. ``inThread`` runs a blocking client
(smtplib) in a thread and gives a Deferred of its result, so a test can iterate the
reactor with ``runUntilFired`` meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from torsion.cred.portal import IRealm, Portal
from torsion.internet.defer import Deferred, succeed
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.mail import smtp
from torsion.python.failure import Failure


@implementer(smtp.IMessage)
class MemoryMessage:
    """Keeps the lines of one message; ``fail`` makes eomReceived fail with it."""

    def __init__(self, delivery: MemoryDelivery, user: smtp.User) -> None:
        self.delivery = delivery
        self.user = user
        self.lines: list[bytes] = []
        self.lost = False

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)

    def eomReceived(self) -> Deferred[None]:
        if self.delivery.failEom is not None:
            raise self.delivery.failEom
        self.delivery.messages.append((self.user, b"\r\n".join(self.lines) + b"\r\n"))
        return self.delivery.answer(None)

    def connectionLost(self) -> None:
        self.lost = True
        self.delivery.lost.append(self)


@implementer(smtp.IMessageDelivery)
class MemoryDelivery:
    """A delivery for tests: recipients of ``domains`` are accepted, others refused."""

    def __init__(
        self, domains: tuple[bytes, ...] = (b"example.com",), clock: Clock | None = None
    ) -> None:
        self.domains = domains
        self.messages: list[tuple[smtp.User, bytes]] = []
        self.lost: list[MemoryMessage] = []
        self.senders: list[smtp.Address] = []
        self.clock = clock
        self.failEom: BaseException | None = None
        self.refuseSender: bytes | None = None

    def answer(self, value: Any) -> Any:
        if self.clock is None:
            return succeed(value) if value is None else value
        d: Deferred[Any] = Deferred()
        self.clock.callLater(1, d.callback, value)
        return d

    def receivedHeader(
        self, helo: tuple[bytes, bytes], origin: smtp.Address, recipients: list[smtp.User]
    ) -> bytes:
        return (
            b"Received: from "
            + helo[0]
            + b" (["
            + helo[1]
            + b"])\r\n\tby test.example; "
            + smtp.rfc822date()
        )

    def validateFrom(self, helo: tuple[bytes, bytes], origin: smtp.Address) -> Any:
        if self.refuseSender is not None and bytes(origin) == self.refuseSender:
            raise smtp.SMTPBadSender(origin)
        self.senders.append(origin)
        return self.answer(origin)

    def validateTo(self, user: smtp.User) -> Any:
        if user.dest.domain.lower() not in self.domains:
            if self.clock is not None:
                d: Deferred[Any] = Deferred()
                self.clock.callLater(1, d.errback, Failure(smtp.SMTPBadRcpt(user)))
                return d
            raise smtp.SMTPBadRcpt(user, 550, b"5.1.1 No such user here")
        return self.answer(lambda: MemoryMessage(self, user))


@implementer(IRealm)
class DeliveryRealm:
    """Gives each user their own MemoryDelivery (and anonymous users none)."""

    def __init__(self) -> None:
        self.deliveries: dict[bytes, MemoryDelivery] = {}
        self.logouts: list[bytes] = []

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        if smtp.IMessageDelivery not in interfaces:
            raise NotImplementedError("only IMessageDelivery")
        delivery = self.deliveries.setdefault(avatarId, MemoryDelivery())
        return smtp.IMessageDelivery, delivery, lambda: self.logouts.append(avatarId)


def userPortal(**users: str) -> tuple[Portal, DeliveryRealm]:
    realm = DeliveryRealm()
    return Portal(realm, [InMemoryUsernamePasswordDatabaseDontUse(**users)]), realm


def connectedServer(
    protocol: smtp.SMTP, clock: Clock | None = None
) -> tuple[smtp.SMTP, StringTransport, Clock]:
    """Connect ``protocol`` to a StringTransport, its timeout on a Clock."""
    clock = clock or Clock()
    protocol.callLater = clock.callLater  # type: ignore[method-assign]
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock


def replies(transport: StringTransport) -> list[bytes]:
    """Return the reply lines written so far (and forget them)."""
    lines = transport.value().split(b"\r\n")
    transport.clear()
    return [line for line in lines if line]


def codes(transport: StringTransport) -> list[int]:
    """Return the codes of the complete replies written so far (and forget them)."""
    return [int(line[:3]) for line in replies(transport) if line[3:4] != b"-"]


def inThread(reactor: Any, function: Callable[[], Any]) -> Deferred[Any]:
    """Run a blocking ``function`` in a thread; its result comes back in the reactor."""
    d: Deferred[Any] = Deferred()

    def run() -> None:
        try:
            result = function()
        except BaseException:
            failure = Failure()
            reactor.callFromThread(d.errback, failure)
        else:
            reactor.callFromThread(d.callback, result)

    threading.Thread(target=run, daemon=True).start()
    return d


def esmtpFactory(
    delivery: Any = None, portal: Any = None, ctx: Any = None, **attrs: Any
) -> smtp.SMTPFactory:
    """An SMTPFactory making ESMTP connections with the given delivery/portal/TLS."""

    class Protocol(smtp.ESMTP):
        pass

    for name, value in attrs.items():
        setattr(Protocol, name, value)
    factory = smtp.SMTPFactory(portal)
    factory.protocol = Protocol
    factory.domain = b"test.example"
    factory.delivery = delivery
    factory.contextFactory = ctx
    return factory
