"""Tests for torsion.internet.udp.MulticastPort: IPv4 multicast on the loopback interface.

Every test runs on each reactor. Groups are joined on 127.0.0.1 and the receiving
ports bind the group's address, so nothing is sent to or heard from another
interface. A machine whose loopback interface cannot carry multicast skips these
tests, saying so.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_udp import Recorder
from torsion.internet import error
from torsion.internet.defer import fail
from torsion.internet.interfaces import IMulticastTransport, IResolverSimple, IUDPTransport

reactor = reactormixins.reactor

LOOPBACK = "127.0.0.1"


def _multicastOnLoopback() -> str | None:
    """Return why multicast cannot be tested on the loopback interface, or None."""
    group = "228.0.0.250"
    try:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
        ):
            receiver.bind((group, 0))
            receiver.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_ADD_MEMBERSHIP,
                socket.inet_aton(group) + socket.inet_aton(LOOPBACK),
            )
            receiver.settimeout(2)
            sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
            sender.sendto(b"probe", (group, receiver.getsockname()[1]))
            receiver.recvfrom(10)
    except OSError as e:
        return f"this machine cannot route IPv4 multicast on its loopback interface ({e})"
    return None


_why = _multicastOnLoopback()
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")

# One group per test (with a fresh port each time), so tests never hear each other.
_groups = iter(f"228.0.0.{n}" for n in range(1, 250))


@pytest.fixture
def group() -> str:
    return next(_groups)


@pytest.fixture
def sockets() -> Iterator[Callable[[str], socket.socket]]:
    """Make Python UDP sockets: ``sockets('send')`` sends on the loopback interface,
    ``sockets(group)`` is bound to ``group`` and has joined it there."""
    made: list[socket.socket] = []

    def make(role: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        made.append(sock)
        sock.settimeout(5)
        if role == "send":
            sock.bind((LOOPBACK, 0))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
        else:
            sock.bind((role, 0))
            sock.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_ADD_MEMBERSHIP,
                socket.inet_aton(role) + socket.inet_aton(LOOPBACK),
            )
        return sock

    yield make
    for sock in made:
        sock.close()


def member(reactor: Any, group: str, port: int = 0, **kw: Any) -> tuple[Any, Recorder]:
    """Return a MulticastPort bound to ``group`` that has joined it on 127.0.0.1."""
    proto = Recorder()
    listening = reactor.listenMulticast(port, proto, interface=group, **kw)
    assert runUntilFired(reactor, listening.joinGroup(group, LOOPBACK)) is None
    return listening, proto


def test_memberReceivesWhatIsSentToTheGroup(reactor: Any, group: str, sockets: Any) -> None:
    port, proto = member(reactor, group)
    sender = sockets("send")
    sender.sendto(b"to the group", (group, port.getHost().port))
    runUntil(reactor, lambda: proto.datagrams)
    assert proto.datagrams == [(b"to the group", sender.getsockname())]


def test_portSendsToAGroupFromTheInterfaceItWasGiven(
    reactor: Any, group: str, sockets: Any
) -> None:
    proto = Recorder()
    port = reactor.listenMulticast(0, proto, interface=LOOPBACK)
    assert runUntilFired(reactor, port.setOutgoingInterface(LOOPBACK)) == 1
    assert port.getOutgoingInterface() == LOOPBACK
    receiver = sockets(group)
    port.write(b"hello, group", (group, receiver.getsockname()[1]))
    assert receiver.recvfrom(100) == (b"hello, group", (LOOPBACK, port.getHost().port))


def test_aLeftGroupIsNoLongerHeard(reactor: Any, group: str, sockets: Any) -> None:
    port, proto = member(reactor, group)
    destination = (group, port.getHost().port)
    assert runUntilFired(reactor, port.leaveGroup(group, LOOPBACK)) is None
    sender = sockets("send")
    sender.sendto(b"lost", destination)
    runUntilFired(reactor, port.joinGroup(group, LOOPBACK))
    sender.sendto(b"found", destination)
    runUntil(reactor, lambda: proto.datagrams)
    for _ in range(3):
        reactor.iterate(0.01)
    assert [d for d, _ in proto.datagrams] == [b"found"]


def test_joinGroupFromStartProtocolWithHostNames(reactor: Any, group: str, sockets: Any) -> None:
    class Joining(Recorder):
        def startProtocol(self) -> None:
            super().startProtocol()
            # Names are looked up first; 'localhost' is 127.0.0.1 from the hosts file.
            self.joined = self.transport.joinGroup(group, "localhost")

    reactor.getThreadPool().start()  # Lookups run there; the reactor is not running.
    proto = Joining()
    port = reactor.listenMulticast(0, proto, interface=group)
    runUntilFired(reactor, proto.joined, timeout=10)
    sockets("send").sendto(b"hi", (group, port.getHost().port))
    runUntil(reactor, lambda: proto.datagrams)


def test_listenMultipleLetsPortsShareAGroupAndEachHearsIt(
    reactor: Any, group: str, sockets: Any
) -> None:
    first, heardFirst = member(reactor, group, listenMultiple=True)
    number = first.getHost().port
    second, heardSecond = member(reactor, group, number, listenMultiple=True)
    assert second.getHost().port == number
    sockets("send").sendto(b"for both", (group, number))
    runUntil(reactor, lambda: heardFirst.datagrams and heardSecond.datagrams)
    assert heardFirst.datagrams[0][0] == heardSecond.datagrams[0][0] == b"for both"


def test_withoutListenMultipleThePortIsNotShared(reactor: Any, group: str) -> None:
    first = reactor.listenMulticast(0, Recorder(), interface=group)
    number = first.getHost().port
    with pytest.raises(error.CannotListenError, match="in use"):
        reactor.listenMulticast(number, Recorder(), interface=group, listenMultiple=True)


def test_ttlAndLoopbackModeCanBeSetAndRead(reactor: Any) -> None:
    port = reactor.listenMulticast(0, Recorder(), interface=LOOPBACK)
    assert port.getTTL() == 1
    for ttl in (0, 32, 255):
        port.setTTL(ttl)
        assert port.getTTL() == ttl
    for bad in (256, -1, "1"):
        with pytest.raises(ValueError, match="0 to 255"):
            port.setTTL(bad)
    assert port.getLoopbackMode() is True
    port.setLoopbackMode(False)
    assert port.getLoopbackMode() is False
    port.setLoopbackMode(True)
    assert port.getLoopbackMode() is True


def test_joiningAnAddressThatIsNoGroupFails(reactor: Any) -> None:
    port = reactor.listenMulticast(0, Recorder(), interface=LOOPBACK)
    with pytest.raises(error.MulticastJoinError) as caught:
        runUntilFired(reactor, port.joinGroup(LOOPBACK, LOOPBACK))
    assert caught.value.errno == errno.EINVAL
    assert str(caught.value).startswith(
        "Couldn't join multicast group 127.0.0.1 on interface 127.0.0.1"
    )
    assert "224.0.0.0 to 239.255.255.255" in str(caught.value)


def test_leavingAGroupNotJoinedFails(reactor: Any, group: str) -> None:
    port = reactor.listenMulticast(0, Recorder(), interface=group)
    with pytest.raises(error.MulticastJoinError, match="Couldn't leave") as caught:
        runUntilFired(reactor, port.leaveGroup(group, LOOPBACK))
    assert "leave only a group this port joined" in str(caught.value)


def test_theOutgoingInterfaceMustBeAnIPv4Address(reactor: Any) -> None:
    port = reactor.listenMulticast(0, Recorder(), interface=LOOPBACK)
    with pytest.raises(error.InvalidAddressError, match="IPv4 address of this machine"):
        runUntilFired(reactor, port.setOutgoingInterface("::1"))


def test_multicastPortsAreIPv4Only(reactor: Any) -> None:
    with pytest.raises(error.UnsupportedAddressFamily, match="IPv4 only"):
        reactor.listenMulticast(0, Recorder(), interface="::1")


def test_optionsOfAStoppedPortRaise(reactor: Any, group: str) -> None:
    port = reactor.listenMulticast(0, Recorder(), interface=LOOPBACK)
    runUntilFired(reactor, port.stopListening())
    for call in (
        lambda: port.joinGroup(group),
        lambda: port.setTTL(1),
        port.getLoopbackMode,
        port.getOutgoingInterface,
    ):
        with pytest.raises(RuntimeError, match="not listening"):
            call()


def test_portProvidesTheMulticastInterfaces(reactor: Any) -> None:
    port = reactor.listenMulticast(0, Recorder(), interface=LOOPBACK)
    assert verifyObject(IMulticastTransport, port)
    assert verifyObject(IUDPTransport, port)


def test_aGroupNameThatCannotBeLookedUpFails(reactor: Any) -> None:
    @implementer(IResolverSimple)
    class NoNames:
        def getHostByName(self, name: str, timeout: Any = ()) -> Any:
            return fail(error.DNSLookupError(f"no address for {name}"))

    reactor.installResolver(NoNames())
    port = reactor.listenMulticast(0, Recorder(), interface=LOOPBACK)
    with pytest.raises(error.MulticastJoinError, match=r"no address for group\.invalid"):
        runUntilFired(reactor, port.joinGroup("group.invalid", LOOPBACK))
