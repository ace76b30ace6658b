"""Tests for torsion.internet.interfaces: each role has Twisted's methods, and is provided.

The first tests pin the names each interface declares (the methods and attributes
Twisted documents), so a role cannot silently lose one. The rest check with
``zope.interface.verify.verifyObject`` that the real objects (every reactor of the
fixture, TCP transports, ports, connectors, addresses, timed calls, protocols and
factories) provide the roles they claim, with compatible signatures.
"""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface import Interface
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_tcp import OneProtocolFactory, Recorder, connectedPair, listen
from torsion.internet import interfaces
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.interfaces import (
    IAddress,
    IConnector,
    IConsumer,
    IDelayedCall,
    IHalfCloseableProtocol,
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IPullProducer,
    IPushProducer,
    IReactorCore,
    IReactorFDSet,
    IReactorPluggableResolver,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
    ITCPTransport,
    ITransport,
)
from torsion.internet.protocol import ClientFactory, Factory, Protocol, ServerFactory
from torsion.protocols.wire import Echo

reactor = reactormixins.reactor

# What Twisted documents for each role (its own methods and attributes, and inherited).
EXPECTED_NAMES: dict[Any, set[str]] = {
    IReactorCore: {
        "running",
        "resolve",
        "run",
        "stop",
        "crash",
        "iterate",
        "fireSystemEvent",
        "addSystemEventTrigger",
        "removeSystemEventTrigger",
        "callWhenRunning",
    },
    IReactorTime: {"seconds", "callLater", "getDelayedCalls"},
    IReactorFDSet: {
        "addReader",
        "addWriter",
        "removeReader",
        "removeWriter",
        "removeAll",
        "getReaders",
        "getWriters",
    },
    IReactorTCP: {"listenTCP", "connectTCP"},
    IReactorThreads: {"getThreadPool", "callInThread", "callFromThread", "suggestThreadPoolSize"},
    IReactorPluggableResolver: {"installResolver"},
    IDelayedCall: {"getTime", "cancel", "delay", "reset", "active"},
    ITransport: {"write", "writeSequence", "loseConnection", "getPeer", "getHost"},
    ITCPTransport: {
        "write",
        "writeSequence",
        "loseConnection",
        "getPeer",
        "getHost",
        "loseWriteConnection",
        "abortConnection",
        "getTcpNoDelay",
        "setTcpNoDelay",
        "getTcpKeepAlive",
        "setTcpKeepAlive",
    },
    IProtocol: {"makeConnection", "connectionMade", "dataReceived", "connectionLost"},
    IProtocolFactory: {"buildProtocol", "doStart", "doStop"},
    IHalfCloseableProtocol: {"readConnectionLost", "writeConnectionLost"},
    IConsumer: {"registerProducer", "unregisterProducer", "write"},
    IPushProducer: {"pauseProducing", "resumeProducing", "stopProducing"},
    IPullProducer: {"resumeProducing", "stopProducing"},
    IListeningPort: {"startListening", "stopListening", "getHost"},
    IConnector: {"stopConnecting", "disconnect", "connect", "getDestination"},
    IAddress: set(),
}


@pytest.mark.parametrize("iface", list(EXPECTED_NAMES), ids=lambda i: i.__name__)
def test_interfaceDeclaresTwistedsNames(iface: Any) -> None:
    assert set(iface.names(all=True)) == EXPECTED_NAMES[iface]


def test_everyInterfaceIsExported() -> None:
    for iface in EXPECTED_NAMES:
        assert iface.__name__ in interfaces.__all__
        assert issubclass(iface, Interface)


def test_producersAndTransportRolesAreRelated() -> None:
    assert ITCPTransport.extends(ITransport)
    assert IPushProducer.extends(interfaces.IProducer)
    assert IPullProducer.extends(interfaces.IProducer)


REACTOR_ROLES = [
    IReactorCore,
    IReactorTime,
    IReactorFDSet,
    IReactorTCP,
    IReactorThreads,
    IReactorPluggableResolver,
]


@pytest.mark.parametrize("iface", REACTOR_ROLES, ids=lambda i: i.__name__)
def test_reactorProvidesRole(reactor: Any, iface: Any) -> None:
    assert verifyObject(iface, reactor)


def test_callLaterReturnsIDelayedCall(reactor: Any) -> None:
    call = reactor.callLater(10, lambda: None)
    try:
        assert verifyObject(IDelayedCall, call)
    finally:
        call.cancel()


@pytest.mark.parametrize("side", ["client", "server"])
def test_tcpTransportProvidesTransportProducerAndConsumer(reactor: Any, side: str) -> None:
    client, server = connectedPair(reactor)
    transport = (client if side == "client" else server).transport
    for iface in (ITransport, ITCPTransport, IConsumer, IPushProducer):
        assert verifyObject(iface, transport)


def test_listeningPortProvidesIListeningPort(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    assert verifyObject(IListeningPort, port)
    runUntilFired(reactor, port.stopListening())


def test_connectorProvidesIConnector(reactor: Any) -> None:
    port = listen(reactor, Factory.forProtocol(Echo))
    client = Recorder()
    connector = reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(client))
    assert verifyObject(IConnector, connector)
    runUntilFired(reactor, client.made)
    connector.disconnect()
    runUntil(reactor, lambda: connector.state == "disconnected")


def test_addressesProvideIAddress(reactor: Any) -> None:
    client, server = connectedPair(reactor)
    for address in (client.transport.getPeer(), server.transport.getPeer()):
        assert verifyObject(IAddress, address)
    assert verifyObject(IAddress, IPv6Address("TCP", "::1", 1))
    assert verifyObject(IAddress, IPv4Address("UDP", "127.0.0.1", 1))


def test_protocolAndFactoriesProvideTheirRoles() -> None:
    assert verifyObject(IProtocol, Protocol())
    for factory in (Factory(), ServerFactory(), ClientFactory()):
        assert verifyObject(IProtocolFactory, factory)
