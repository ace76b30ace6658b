"""torsion.tap.echo (the ``echo`` plugin): its options and the service it makes.

The service is made with a MemoryReactor as the global reactor, so that no real one
is installed in the test process; tests/scripts/test_torsiond.py runs the plugin for
real, saves it at shutdown and resumes it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.application.conftest import installedAsGlobal
from torsion.application.internet import StreamServerEndpointService
from torsion.internet.endpoints import TCP4ServerEndpoint, UNIXServerEndpoint
from torsion.internet.testing import MemoryReactor
from torsion.protocols import wire
from torsion.python import usage
from torsion.tap import echo


@pytest.fixture(autouse=True)
def memoryReactor() -> Iterator[MemoryReactor]:
    made = MemoryReactor()
    with installedAsGlobal(made):
        yield made


def test_defaultListensOnAHighPortOfThisMachineOnly() -> None:
    options = echo.Options()
    options.parseOptions([])
    assert options["listen"] == "tcp:8007:interface=127.0.0.1"
    made = echo.makeService(options)
    assert isinstance(made, StreamServerEndpointService)
    assert isinstance(made.endpoint, TCP4ServerEndpoint)
    assert made.factory.protocol is wire.Echo


def test_listenTakesAnyEndpointDescription() -> None:
    options = echo.Options()
    options.parseOptions(["--listen", "unix:/tmp/echo.sock"])
    assert isinstance(echo.makeService(options).endpoint, UNIXServerEndpoint)


@pytest.mark.parametrize(
    ("description", "message"),
    [("tcp:http", "bad port"), ("bogus:1", "unknown endpoint type"), ("8007", "no endpoint type")],
)
def test_aBadDescriptionIsAUsageError(description: str, message: str) -> None:
    with pytest.raises(usage.UsageError, match=f"--listen '{description}': .*{message}"):
        echo.Options().parseOptions(["-l", description])


def test_theServiceListensWhenStarted(memoryReactor: MemoryReactor) -> None:
    options = echo.Options()
    options.parseOptions(["-l", "tcp:7007:interface=127.0.0.1"])
    made = echo.makeService(options)
    made.privilegedStartService()
    made.startService()
    port, factory, _backlog, interface = memoryReactor.tcpServers[0]
    assert (port, interface, factory.protocol) == (7007, "127.0.0.1", wire.Echo)
