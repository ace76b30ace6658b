"""The seed's .tac files (examples/echo.tac, examples/mioeco.tac), loaded from their text.

A .tac is Python run for its ``application`` variable, as torsiond will run it. The
echo server is then started for real (on a free port instead of the privileged port
7), pickled while it runs as torsiond does at shutdown (a .tap), loaded back, and
started again; with torsion.persisted.sob, it is also saved and loaded in each of
sob's forms (.tap, .tas source, .tax XML).
"""

from __future__ import annotations

import pickle
import types
from pathlib import Path
from typing import Any

import pytest

from tests.application.conftest import installedAsGlobal
from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_tcp import OneProtocolFactory, Recorder
from torsion.application import internet, service
from torsion.protocols import wire

reactor = reactormixins.reactor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def loadTac(name: str) -> Any:
    """Run the .tac the way torsiond does, and return its ``application``."""
    path = EXAMPLES / name
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "__builtin__"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["application"]


def echoThrough(reactor: Any, number: int) -> None:
    client = Recorder()
    reactor.connectTCP("127.0.0.1", number, OneProtocolFactory(client))
    runUntilFired(reactor, client.made)
    client.transport.write(b"echo.tac")
    runUntil(reactor, lambda: client.data == b"echo.tac")
    client.transport.loseConnection()
    runUntilFired(reactor, client.lost)


def test_echoTacMakesTheSeedsApplication(sob: types.ModuleType) -> None:
    application = loadTac("echo.tac")
    top = service.IService(application)
    assert top.name == "echo"
    [server] = list(top)
    assert isinstance(server, internet.TCPServer)
    assert server.args[0] == 7
    assert server.args[1].protocol is wire.Echo
    assert server.parent is top
    assert isinstance(sob.IPersistable(application), sob.Persistent)


def test_echoTacServesIsSavedWhileRunningAndResumes(reactor: Any, sob: types.ModuleType) -> None:
    application = loadTac("echo.tac")
    top = service.IService(application)
    [server] = list(top)
    # Port 7 needs privileges: the same service, on a free port of 127.0.0.1.
    server.args = (0, server.args[1])
    server.kwargs = {"interface": "127.0.0.1"}
    with installedAsGlobal(reactor):
        top.privilegedStartService()
        top.startService()
        echoThrough(reactor, server._port.getHost().port)

        saved = pickle.dumps(application)  # What torsiond writes to echo-shutdown.tap.
        runUntilFired(reactor, top.stopService())

        resumed = pickle.loads(saved)
        again = service.IService(resumed)
        assert again.name == "echo" and not again.running
        [serverAgain] = list(again)
        assert serverAgain._port is None
        assert serverAgain.args[1].protocol is wire.Echo
        again.privilegedStartService()
        again.startService()
        echoThrough(reactor, serverAgain._port.getHost().port)
        runUntilFired(reactor, again.stopService())


def test_mioecoTacFindsItsClassesByModuleName(
    sob: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    application = loadTac("mioeco.tac")
    [server] = list(service.IService(application))
    assert server.args[0] == 7777
    factory = server.args[1]
    assert type(factory).__module__ == "mioeco" and type(factory).__name__ == "Fabbrica"
    saved = pickle.dumps(application)
    assert b"mioeco" in saved and b"Fabbrica" in saved
    [loaded] = list(service.IService(pickle.loads(saved)))
    assert type(loaded.args[1]) is type(factory)


def test_theDocsShowEchoTacAsItIs() -> None:
    page = (DOCS / "application.md").read_text()
    text = (EXAMPLES / "echo.tac").read_text()
    code = [line for line in text.splitlines() if line and not line.startswith("#")]
    missing = [line for line in code if line not in page]
    assert not missing, f"docs/application.md does not show these lines of echo.tac: {missing}"


@pytest.mark.parametrize("style", ["pickle", "source", "xml"])
def test_runningEchoTacIsSavedAndLoadedInEveryStyle(
    reactor: Any, style: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What torsiond does at shutdown and at the next start, with sob's three forms."""
    sob = pytest.importorskip("torsion.persisted.sob")
    monkeypatch.chdir(tmp_path)
    application = loadTac("echo.tac")
    top = service.IService(application)
    [server] = list(top)
    server.args = (0, server.args[1])
    server.kwargs = {"interface": "127.0.0.1"}
    with installedAsGlobal(reactor):
        top.privilegedStartService()
        top.startService()
        persistent = sob.IPersistable(application)
        persistent.setStyle(style)
        saved = persistent.save(tag="shutdown")
        runUntilFired(reactor, top.stopService())
        assert saved == f"echo-shutdown.{sob.STYLES[style][0]}"

        resumed = sob.load(saved, style)
        again = service.IService(resumed)
        assert again.name == "echo" and not again.running
        [serverAgain] = list(again)
        assert serverAgain.args[1].protocol is wire.Echo
        assert sob.IPersistable(resumed).original is resumed
        again.privilegedStartService()
        again.startService()
        echoThrough(reactor, serverAgain._port.getHost().port)
        runUntilFired(reactor, again.stopService())
