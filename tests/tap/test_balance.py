"""Tests for the ``balance`` plugin (torsion/plugins/torsion_balance.py, torsion/tap/balance.py).

The options are parsed directly; the service runs on a test reactor, and ``torsiond
balance`` runs for real as a child process in front of three thread backends, one of
which is stopped and started again.
"""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from tests.tap._torsiond import ThreadServer, exchange, freePort, namedEcho, runTorsiond
from torsion.application.service import IServiceMaker
from torsion.plugin import getPlugins
from torsion.protocols import balancer
from torsion.python import usage
from torsion.tap import balance

reactor = reactormixins.reactor


def parse(*args: str) -> balance.Options:
    options = balance.Options()
    options.parseOptions(list(args))
    return options


def test_pluginIsFound() -> None:
    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert makers["balance"].options is balance.Options


def test_options() -> None:
    options = parse(
        "--listen",
        "tcp:8080",
        "--backend",
        "tcp:127.0.0.1:9001",
        "-b",
        "127.0.0.1:9002:weight=3",
        "--policy",
        "weighted",
        "--health-interval",
        "0.5",
        "--rise",
        "1",
        "--fall",
        "4",
    )
    assert options["backends"] == ["tcp:127.0.0.1:9001", "127.0.0.1:9002:weight=3"]
    assert options["policy"] == "weighted"
    assert (options["health-interval"], options["rise"], options["fall"]) == (0.5, 1, 4)
    assert parse("-b", "localhost:1")["listen"] == "tcp:8080:interface=127.0.0.1"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "at least one --backend"),
        (["-b", "nonsense"], "--backend 'nonsense'"),
        (["-b", "localhost:1:weight=0"], "bad weight"),
        (["-b", "localhost:1", "--policy", "fastest"], "unknown --policy 'fastest'"),
        (["-b", "localhost:1", "--health-interval", "0"], "--health-interval"),
        (["-b", "localhost:1", "--rise", "0"], "--rise"),
        (["-b", "localhost:1", "--send-proxy", "v2"], "--send-proxy"),
        (["-b", "localhost:1", "--listen", "tcp"], "--listen"),
    ],
)
def test_badOptions(args: list[str], words: str) -> None:
    with pytest.raises(usage.UsageError, match=words):
        parse(*args)


def greeting(reactor: Any, port: int) -> bytes:
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.setblocking(False)
    got = bytearray()

    def done() -> bool:
        try:
            chunk = client.recv(100)
        except BlockingIOError:
            return False
        got.extend(chunk)
        return not chunk or b"\n" in got

    runUntil(reactor, done)
    client.close()
    return bytes(got).strip()


def test_makeServiceBalancesAndChecks(reactor: Any) -> None:
    backends = [ThreadServer(namedEcho(b"backend %d" % i)) for i in range(3)]
    listening = freePort()
    args = ["--listen", f"tcp:{listening}:interface=127.0.0.1", "--health-interval", "0.05"]
    for backend in backends:
        args += ["--backend", f"tcp:127.0.0.1:{backend.port}"]
    service = balance.makeService(parse(*args), reactor)
    service.privilegedStartService()
    service.startService()
    try:
        seen = Counter(greeting(reactor, listening) for _ in range(6))
        assert seen == {b"backend 0": 2, b"backend 1": 2, b"backend 2": 2}
        checker = next(s for s in service if isinstance(s, balancer.HealthChecker))
        assert checker.interval == 0.05
    finally:
        service.stopService()
        for backend in backends:
            backend.close()


def test_torsiondBalanceSurvivesABackendDying(tmp_path: Path) -> None:
    backends = [ThreadServer(namedEcho(b"backend %d" % i)) for i in range(3)]
    ports = [backend.port for backend in backends]
    listening = freePort()
    args = [
        "balance",
        "--listen",
        f"tcp:{listening}:interface=127.0.0.1",
        "--policy",
        "round-robin",
        "--health-interval",
        "0.1",
        "--rise",
        "1",
    ]
    for port in ports:
        args += ["--backend", f"127.0.0.1:{port}"]
    try:
        with runTorsiond(args, listening, tmp_path):
            names = Counter(exchange(listening, b"", b"\n").strip() for _ in range(6))
            assert names == {b"backend 0": 2, b"backend 1": 2, b"backend 2": 2}
            backends[1].close()
            names = Counter(exchange(listening, b"", b"\n").strip() for _ in range(6))
            assert set(names) == {b"backend 0", b"backend 2"} and sum(names.values()) == 6
            # Back on its port: the health checks find it and it gets connections again.
            backends[1] = ThreadServer(namedEcho(b"backend 1"), ports[1])
            for _ in range(100):
                if b"backend 1" in {exchange(listening, b"", b"\n").strip() for _ in range(3)}:
                    break
            else:
                pytest.fail("backend 1 never came back")
            assert exchange(listening, b"echo me", b"echo me").endswith(b"echo me")
    finally:
        for backend in backends:
            backend.close()
