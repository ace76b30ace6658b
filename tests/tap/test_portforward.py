"""Tests for the ``portforward`` plugin (torsion/plugins/ and torsion/tap/portforward.py).

The options are parsed directly; the service runs on a test reactor installed as the
global one, and ``torsiond portforward`` runs for real as a child process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.application.conftest import installedAsGlobal
from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from tests.tap._torsiond import ThreadServer, echo, exchange, freePort, runTorsiond
from torsion.application.service import IServiceMaker
from torsion.plugin import getPlugins
from torsion.protocols.portforward import ProxyFactory
from torsion.python import usage
from torsion.tap import portforward

reactor = reactormixins.reactor


def parse(*args: str) -> portforward.Options:
    options = portforward.Options()
    options.parseOptions(list(args))
    return options


def test_pluginIsFound() -> None:
    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert makers["portforward"].options is portforward.Options


def test_twistedsOptions() -> None:
    options = parse("--port", "8080", "--host", "example.com", "--dest_port", "80")
    assert (options["listen"], options["host"], options["dest_port"]) == (
        "tcp:8080",
        "example.com",
        80,
    )
    short = parse("-p", "8080", "-h", "example.com", "-d", "80")
    assert short["listen"] == "tcp:8080" and short["dest_port"] == 80


def test_sendProxy() -> None:
    assert parse("--send-proxy", "2")["send-proxy"] == 2
    assert parse()["send-proxy"] is None


def test_defaultsListenOnThisMachineOnly() -> None:
    assert parse()["listen"] == "tcp:6666:interface=127.0.0.1"


def test_portTakesADescription() -> None:
    assert parse("--port", "unix:/tmp/x.sock")["listen"] == "unix:/tmp/x.sock"
    assert parse("--listen", "tcp:1:interface=127.0.0.2")["listen"] == "tcp:1:interface=127.0.0.2"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "1", "--listen", "tcp:2"], "not both"),
        (["--listen", "tcp:80:interfac=x"], "interfac"),
        (["--dest_port", "70000"], "--dest_port"),
        (["--dest_port", "http"], "--dest_port"),
        (["--host", ""], "--host is empty"),
        (["--send-proxy", "3"], "--send-proxy"),
    ],
)
def test_badOptions(args: list[str], words: str) -> None:
    with pytest.raises(usage.UsageError, match=words):
        parse(*args)


def test_makeServiceForwards(reactor: Any) -> None:
    destination = ThreadServer(echo)
    listening = freePort()
    options = parse(
        "--listen",
        f"tcp:{listening}:interface=127.0.0.1",
        "-h",
        "127.0.0.1",
        "-d",
        str(destination.port),
    )
    with installedAsGlobal(reactor):
        service = portforward.makeService(options)
        assert isinstance(service.factory, ProxyFactory)
        service.privilegedStartService()
        service.startService()
        import socket

        client = socket.create_connection(("127.0.0.1", listening), timeout=5)
        client.setblocking(False)
        client.sendall(b"forwarded")
        got = bytearray()

        def received() -> bool:
            try:
                got.extend(client.recv(100))
            except BlockingIOError:
                pass
            return bytes(got) == b"forwarded"

        runUntil(reactor, received)
        client.close()
        service.stopService()
    destination.close()


def test_torsiondPortforward(tmp_path: Path) -> None:
    destination = ThreadServer(echo)
    listening = freePort()
    args = [
        "portforward",
        "--port",
        f"tcp:{listening}:interface=127.0.0.1",
        "--host",
        "127.0.0.1",
        "--dest_port",
        str(destination.port),
    ]
    try:
        with runTorsiond(args, listening, tmp_path):
            assert exchange(listening, b"over torsiond", b"torsiond") == b"over torsiond"
            big = bytes(range(256)) * 2000 + b"END"
            assert exchange(listening, big, b"END") == big
    finally:
        destination.close()
