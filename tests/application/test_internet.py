"""Tests for the ready services of torsion.application.internet.

Every server and client service is tested on a recording reactor (start, stop,
privilegedStartService, a pickle round trip while running); TCPServer and TCPClient
also run for real on each reactor of the conformance suite.
StreamServerEndpointService is tested on endpoints whose Deferreds the test fires.
TimerService and ClientService have their own modules.
"""

from __future__ import annotations

import pickle
import socket
from typing import Any

import pytest
from zope.interface import implementer

from tests.application.conftest import (
    RecordedConnector,
    RecordedPort,
    RecordingReactor,
    installedAsGlobal,
)
from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_tcp import OneProtocolFactory, Recorder
from torsion.application import internet
from torsion.internet import defer, error
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IStreamServerEndpoint
from torsion.internet.protocol import DatagramProtocol, Factory, ServerFactory
from torsion.protocols.wire import Echo

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors

# (service class, reactor method, arguments it is made with)
SERVERS: list[tuple[type, str, tuple[Any, ...], dict[str, Any]]] = [
    (internet.TCPServer, "listenTCP", (8080, ServerFactory()), {"interface": "127.0.0.1"}),
    (internet.SSLServer, "listenSSL", (443, ServerFactory(), "contextFactory"), {"backlog": 5}),
    (internet.UNIXServer, "listenUNIX", ("/tmp/x.sock", ServerFactory()), {"mode": 0o600}),
    (internet.UDPServer, "listenUDP", (53, "protocol"), {"interface": "127.0.0.1"}),
    (internet.UNIXDatagramServer, "listenUNIXDatagram", ("/tmp/d.sock", "protocol"), {}),
    (internet.MulticastServer, "listenMulticast", (5353, "protocol"), {"listenMultiple": True}),
]
CLIENTS: list[tuple[type, str, tuple[Any, ...], dict[str, Any]]] = [
    (internet.TCPClient, "connectTCP", ("127.0.0.1", 80, Factory()), {"timeout": 5}),
    (internet.SSLClient, "connectSSL", ("example.com", 443, Factory(), "ctx"), {}),
    (internet.UNIXClient, "connectUNIX", ("/tmp/x.sock", Factory()), {"timeout": 3}),
    (internet.UNIXDatagramClient, "connectUNIXDatagram", ("/tmp/d.sock", "protocol"), {}),
]


def ids(cases: list[tuple[type, str, tuple[Any, ...], dict[str, Any]]]) -> list[str]:
    return [case[0].__name__ for case in cases]


# -- servers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "method", "args", "kwargs"), SERVERS, ids=ids(SERVERS))
def test_serverListensInPrivilegedStart(
    fakeReactor: RecordingReactor, cls: type, method: str, args: tuple[Any, ...], kwargs: Any
) -> None:
    server = cls(*args, reactor=fakeReactor, **kwargs)
    server.privilegedStartService()
    assert fakeReactor.calls == [(method, args, kwargs)]
    assert not server.running
    server.startService()
    assert server.running
    assert len(fakeReactor.calls) == 1, "startService listened a second time"


@pytest.mark.parametrize(("cls", "method", "args", "kwargs"), SERVERS, ids=ids(SERVERS))
def test_serverStartWithoutPrivilegedStartListens(
    fakeReactor: RecordingReactor, cls: type, method: str, args: tuple[Any, ...], kwargs: Any
) -> None:
    server = cls(*args, reactor=fakeReactor, **kwargs)
    server.startService()
    assert fakeReactor.calls == [(method, args, kwargs)]


@pytest.mark.parametrize(("cls", "method", "args", "kwargs"), SERVERS, ids=ids(SERVERS))
def test_serverStopStopsListening(
    fakeReactor: RecordingReactor, cls: type, method: str, args: tuple[Any, ...], kwargs: Any
) -> None:
    server = cls(*args, reactor=fakeReactor, **kwargs)
    server.startService()
    [port] = fakeReactor.ports
    assert server.stopService() == "stopped"
    assert port.stopped == 1
    assert not server.running
    assert server.stopService() is None
    assert port.stopped == 1


@pytest.mark.parametrize(("cls", "method", "args", "kwargs"), SERVERS, ids=ids(SERVERS))
def test_serverPicklesWhileRunningAndListensAgainWhenStarted(
    fakeReactor: RecordingReactor, cls: type, method: str, args: tuple[Any, ...], kwargs: Any
) -> None:
    server = cls(*args, reactor=fakeReactor, **kwargs)
    server.setName("srv")
    server.privilegedStartService()
    server.startService()
    copy = pickle.loads(pickle.dumps(server))
    assert type(copy) is cls
    assert not copy.running
    assert copy._port is None
    assert copy.name == "srv"
    assert copy.args[0] == args[0] and copy.kwargs == kwargs
    copy.reactor = fakeReactor
    copy.startService()
    assert [call[0] for call in fakeReactor.calls] == [method, method]
    assert fakeReactor.ports[0].stopped == 0  # The original's port is its own.


class TCPOnlyReactor:
    """A reactor with TCP only."""

    def listenTCP(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not called")


def test_serverWithoutTheReactorMethodSaysWhatIsMissing() -> None:
    server = internet.UNIXDatagramServer("/tmp/x", "protocol", reactor=TCPOnlyReactor())
    with pytest.raises(NotImplementedError, match=r"needs reactor\.listenUNIXDatagram"):
        server.privilegedStartService()
    assert server._port is None


def test_serverThatCannotListenRaisesFromPrivilegedStart() -> None:
    from torsion.internet.testing import RaisingMemoryReactor

    failing = RaisingMemoryReactor(listenException=error.CannotListenError("", 80, OSError()))
    server = internet.TCPServer(80, ServerFactory(), reactor=failing)
    with pytest.raises(error.CannotListenError):
        server.privilegedStartService()


def test_serverUsesTheGlobalReactorByDefault() -> None:
    recording = RecordingReactor()
    with installedAsGlobal(recording):
        server = internet.TCPServer(9, ServerFactory())
        server.startService()
    assert recording.calls[0][0] == "listenTCP"


# -- clients ---------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "method", "args", "kwargs"), CLIENTS, ids=ids(CLIENTS))
def test_clientConnectsOnStartAndDisconnectsOnStop(
    fakeReactor: RecordingReactor, cls: type, method: str, args: tuple[Any, ...], kwargs: Any
) -> None:
    client = cls(*args, reactor=fakeReactor, **kwargs)
    client.privilegedStartService()
    assert fakeReactor.calls == []
    client.startService()
    assert fakeReactor.calls == [(method, args, kwargs)]
    [connection] = fakeReactor.connections
    client.stopService()
    if isinstance(connection, RecordedConnector):
        assert connection.disconnected == 1
    else:
        assert isinstance(connection, RecordedPort) and connection.stopped == 1
    assert not client.running
    client.stopService()  # A second stop has nothing to do.


@pytest.mark.parametrize(("cls", "method", "args", "kwargs"), CLIENTS, ids=ids(CLIENTS))
def test_clientPicklesWhileRunningAndConnectsAgainWhenStarted(
    fakeReactor: RecordingReactor, cls: type, method: str, args: tuple[Any, ...], kwargs: Any
) -> None:
    client = cls(*args, reactor=fakeReactor, **kwargs)
    client.startService()
    copy = pickle.loads(pickle.dumps(client))
    assert not copy.running and copy._connection is None
    copy.reactor = fakeReactor
    copy.startService()
    assert [call[0] for call in fakeReactor.calls] == [method, method]


# -- for real, on every reactor ----------------------------------------------------------


def test_tcpServerServesAndStops(reactor: Any) -> None:
    server = internet.TCPServer(
        0, Factory.forProtocol(Echo), interface="127.0.0.1", reactor=reactor
    )
    server.privilegedStartService()
    server.startService()
    port = server._port.getHost().port
    client = Recorder()
    reactor.connectTCP("127.0.0.1", port, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.write(b"ping")
    runUntil(reactor, lambda: client.data == b"ping")
    client.transport.loseConnection()
    runUntilFired(reactor, client.lost)
    runUntilFired(reactor, server.stopService())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_tcpClientConnectsAndDisconnects(reactor: Any) -> None:
    servers: list[Recorder] = []
    from tests.internet.test_tcp import serverFactory

    port = reactor.listenTCP(0, serverFactory(servers), interface="127.0.0.1")
    client = Recorder()
    clientService = internet.TCPClient(
        "127.0.0.1", port.getHost().port, OneProtocolFactory(client), reactor=reactor
    )
    clientService.startService()
    runUntilFired(reactor, client.made)
    clientService.stopService()
    runUntilFired(reactor, client.lost)
    runUntil(reactor, lambda: bool(servers) and servers[0].lost.called)


def test_udpServerServesAndStops(reactor: Any) -> None:
    class UDPEcho(DatagramProtocol):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            self.transport.write(datagram, addr)

    server = internet.UDPServer(0, UDPEcho(), interface="127.0.0.1", reactor=reactor)
    server.privilegedStartService()
    server.startService()
    host = server._port.getHost()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.setblocking(False)
        peer.sendto(b"udp", (host.host, host.port))
        answers: list[bytes] = []

        def answered() -> bool:
            try:
                answers.append(peer.recv(10))
            except BlockingIOError:
                pass
            return bool(answers)

        runUntil(reactor, answered)
    assert answers == [b"udp"]
    runUntilFired(reactor, server.stopService())
    assert server._port is None


# -- StreamServerEndpointService ---------------------------------------------------------


@implementer(IStreamServerEndpoint)
class ScriptedEndpoint:
    """An endpoint whose listen returns a Deferred the test fires (or a result given)."""

    def __init__(self, result: Any = None) -> None:
        self.result = result
        self.listened: list[Any] = []
        self.pending: list[Deferred[Any]] = []

    def listen(self, factory: Any) -> Deferred[Any]:
        self.listened.append(factory)
        if self.result is not None:
            if isinstance(self.result, BaseException):
                return defer.fail(self.result)
            return defer.succeed(self.result)
        d: Deferred[Any] = Deferred()
        self.pending.append(d)
        return d


def test_endpointServiceListensInPrivilegedStart() -> None:
    port = RecordedPort("listen", (), {})
    endpoint = ScriptedEndpoint(port)
    factory = ServerFactory()
    s = internet.StreamServerEndpointService(endpoint, factory)
    s.privilegedStartService()
    assert endpoint.listened == [factory]
    s.startService()
    assert endpoint.listened == [factory]
    assert s.running
    stopped = s.stopService()
    assert stopped.called and port.stopped == 1
    assert not s.running


def test_endpointServiceStartWithoutPrivilegedStartListens() -> None:
    endpoint = ScriptedEndpoint(RecordedPort("listen", (), {}))
    s = internet.StreamServerEndpointService(endpoint, ServerFactory())
    s.startService()
    assert len(endpoint.listened) == 1


def test_endpointServiceStopWaitsForThePortToClose() -> None:
    closing: Deferred[None] = Deferred()

    class SlowPort(RecordedPort):
        def stopListening(self) -> Any:
            return closing

    endpoint = ScriptedEndpoint(SlowPort("listen", (), {}))
    s = internet.StreamServerEndpointService(endpoint, ServerFactory())
    s.startService()
    stopped = s.stopService()
    assert not stopped.called and s.running
    closing.callback(None)
    assert stopped.called and not s.running


def test_endpointServiceStopBeforeListeningCancels(loggedErrors: list[Any]) -> None:
    endpoint = ScriptedEndpoint()
    s = internet.StreamServerEndpointService(endpoint, ServerFactory())
    s.startService()
    [pending] = endpoint.pending
    stopped = s.stopService()
    assert pending.called  # Cancelled.
    assert stopped.called and not s.running
    assert loggedErrors == []  # A cancellation is not an error.


def test_endpointServiceLogsALaterListenFailure(loggedErrors: list[Any]) -> None:
    endpoint = ScriptedEndpoint()
    s = internet.StreamServerEndpointService(endpoint, ServerFactory())
    s._raiseSynchronously = True
    s.startService()
    endpoint.pending[0].errback(error.CannotListenError("", 80, OSError("busy")))
    [logged] = loggedErrors
    assert logged["failure"].check(error.CannotListenError)
    assert "could not listen" in logged["why"]


def test_endpointServiceLogsAnImmediateFailureByDefault(loggedErrors: list[Any]) -> None:
    endpoint = ScriptedEndpoint(error.CannotListenError("", 80, OSError("busy")))
    s = internet.StreamServerEndpointService(endpoint, ServerFactory())
    s.privilegedStartService()
    assert len(loggedErrors) == 1


def test_endpointServiceRaisesAnImmediateFailureWhenAsked(loggedErrors: list[Any]) -> None:
    endpoint = ScriptedEndpoint(error.CannotListenError("", 80, OSError("busy")))
    s = internet.StreamServerEndpointService(endpoint, ServerFactory())
    s._raiseSynchronously = True
    with pytest.raises(error.CannotListenError):
        s.privilegedStartService()
    assert loggedErrors == []
    assert s.stopService().called


def test_endpointServiceCanBeRestarted() -> None:
    endpoint = ScriptedEndpoint(RecordedPort("listen", (), {}))
    s = internet.StreamServerEndpointService(endpoint, ServerFactory())
    s.startService()
    s.stopService()
    s.startService()
    assert len(endpoint.listened) == 2


def test_endpointServicePicklesWhileRunning() -> None:
    endpoint = ScriptedEndpoint(RecordedPort("listen", (), {}))
    s = internet.StreamServerEndpointService(endpoint, ServerFactory())
    s.startService()
    copy = pickle.loads(pickle.dumps(s))
    assert not copy.running and copy._waitingForPort is None
    copy.startService()
    assert len(copy.endpoint.listened) == 2  # The copy's endpoint, listened once more.


def test_endpointServiceOnARealTCPEndpointPicklesWithTheGlobalReactor() -> None:
    """An endpoint holding the installed reactor pickles it as "the global reactor"."""
    from torsion.internet import endpoints
    from torsion.internet.selectreactor import SelectReactor

    made = SelectReactor()
    try:
        with installedAsGlobal(made):
            s = internet.StreamServerEndpointService(
                endpoints.TCP4ServerEndpoint(made, 0, interface="127.0.0.1"),
                Factory.forProtocol(Echo),
            )
            s.startService()
            data = pickle.dumps(s)
            copy = pickle.loads(data)
            assert copy.endpoint._reactor is made
            runUntilFired(made, s.stopService())
        assert len(data) < 2000, "the reactor itself was pickled"
    finally:
        reactormixins.closeReactor(made)


def test_aReactorThatIsNotInstalledDoesNotPickle(reactor: Any) -> None:
    with pytest.raises(pickle.PicklingError, match="only the installed global reactor"):
        pickle.dumps(internet.TCPServer(0, ServerFactory(), reactor=reactor))
