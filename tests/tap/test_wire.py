"""Tests for the wire plugin (torsion.plugins.torsion_wire, torsion.tap.wire): its
options, the services it makes, those services on a real reactor, and ``torsiond -n
wire`` as a child process."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.application.conftest import installedAsGlobal
from tests.examples.test_echoserv import LineReader
from tests.internet import reactormixins
from tests.internet.reactormixins import closeReactor, runUntilFired
from tests.protocols._rawsockets import RawClient, RawDatagramClient
from torsion.application import internet, service
from torsion.application.service import IServiceMaker
from torsion.internet.selectreactor import SelectReactor
from torsion.plugin import getPlugins
from torsion.protocols import wire
from torsion.python import usage
from torsion.tap import wire as wiretap

reactor = reactormixins.reactor


def parse(*argv: str) -> wiretap.Options:
    options = wiretap.Options()
    options.parseOptions(list(argv))
    return options


def test_pluginIsFoundByItsTapname() -> None:
    [maker] = [p for p in getPlugins(IServiceMaker) if p.tapname == "wire"]
    assert maker.options is wiretap.Options
    assert "RFC 862-868" in maker.description


def test_defaultsAreHighPortsOnLoopback() -> None:
    options = parse()
    assert options["interface"] == "127.0.0.1"
    assert {name: options[name] for name in wiretap.DEFAULT_PORTS} == {
        "echo": 8007,
        "discard": 8009,
        "who": 8011,
        "daytime": 8013,
        "qotd": 8017,
        "chargen": 8019,
        "time": 8037,
    }
    assert options["quote"] == wire.DEFAULT_QUOTE


def test_makeServiceHasATCPAndAUDPServerPerService() -> None:
    top = wiretap.makeService(parse("--interface", "::1", "--echo", "7"))
    assert isinstance(top, service.MultiService)
    children = {child.name: child for child in top}
    assert len(children) == 14
    echo = children["echo tcp"]
    assert isinstance(echo, internet.TCPServer)
    assert echo.args[0] == 7 and echo.kwargs == {"interface": "::1"}
    assert echo.args[1].protocol is wire.Echo
    udp = children["time udp"]
    assert isinstance(udp, internet.UDPServer)
    assert udp.args[0] == 8037 and isinstance(udp.args[1], wire.TimeUDP)


def test_offLeavesAServiceOutAndTcpOnlyLeavesOutUDP() -> None:
    top = wiretap.makeService(parse("--chargen", "off", "--who", "OFF", "--tcp-only"))
    assert sorted(child.name for child in top) == [
        "daytime tcp",
        "discard tcp",
        "echo tcp",
        "qotd tcp",
        "time tcp",
    ]


def test_quoteAndUtmpReachTheProtocols(tmp_path: Path) -> None:
    quoteFile = tmp_path / "quote"
    quoteFile.write_text("From a file.\n")
    top = wiretap.makeService(parse("--quote-file", str(quoteFile), "--utmp", "/nowhere"))
    children = {child.name: child for child in top}
    qotd = children["qotd tcp"].args[1].buildProtocol(None)
    assert qotd.getQuote() == b"From a file.\r\n"
    assert children["qotd udp"].args[1].getQuote() == b"From a file.\r\n"
    assert children["who tcp"].args[1].buildProtocol(None).getUsers() == []
    assert children["who udp"].args[1].utmpPath == "/nowhere"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--echo", "70000"], "between 0 and 65535"),
        (["--echo", "seven"], "--echo"),
        (["--interface", "localhost"], "is not an IP address"),
        (["--quote", "x" * 600], "longer than 510 bytes"),
        (["--quote-file", "/no/such/quote"], "cannot read it"),
        ([f"--{name}=off" for name in wiretap.DEFAULT_PORTS], "every service is off"),
    ],
)
def test_badOptionsAreUsageErrors(argv: list[str], message: str) -> None:
    with pytest.raises(usage.UsageError, match=message):
        parse(*argv)


def checkWireServices(reactor: Any, tcp: dict[str, int], udp: dict[str, int]) -> None:
    """Talk to each of the seven services over TCP and UDP, the way their RFCs say."""
    echo = RawClient(reactor, tcp["echo"])
    echo.send(b"wire\r\n")
    assert echo.readUntil(6) == b"wire\r\n"
    echo.close()
    chargen = RawClient(reactor, tcp["chargen"])
    assert chargen.readUntil(740)[:740] == wire.chargenLines(10)
    chargen.close()
    for name in ("qotd", "who", "daytime", "time", "discard"):
        client = RawClient(reactor, tcp[name])
        if name == "discard":
            client.send(b"gone")
            client.sock.shutdown(socket.SHUT_WR)
        answer = client.readUntilClosed()
        client.close()
        if name == "qotd":
            assert answer.endswith(b"\r\n") and len(answer) > 2
        elif name == "daytime":
            assert answer.endswith(b" +0000\r\n")
        elif name == "time":
            (seconds,) = struct.unpack("!I", answer)
            assert abs(seconds - wire.RFC868_EPOCH_OFFSET - time.time()) < 5
        elif name == "discard":
            assert answer == b""
        else:
            assert answer == b"" or answer.endswith(b"\r\n")
    datagrams = RawDatagramClient(reactor)
    try:
        assert datagrams.ask(udp["echo"], b"udp") == b"udp"
        assert datagrams.silent(udp["discard"], b"udp", wait=0.1)
        assert len(datagrams.ask(udp["chargen"], b"")) <= 512
        assert datagrams.ask(udp["qotd"], b"").endswith(b"\r\n")
        assert datagrams.ask(udp["daytime"], b"").endswith(b" +0000\r\n")
        assert len(datagrams.ask(udp["time"], b"")) == 4
        datagrams.ask(udp["who"], b"")
    finally:
        datagrams.close()


def portsOf(top: Any) -> tuple[dict[str, int], dict[str, int]]:
    tcp, udp = {}, {}
    for child in top:
        name, kind = child.name.split()
        (tcp if kind == "tcp" else udp)[name] = child._port.getHost().port
    return tcp, udp


def test_servicesServeOnARealReactor(reactor: Any) -> None:
    options = parse(*[f"--{name}=0" for name in wiretap.DEFAULT_PORTS])
    top = wiretap.makeService(options)
    with installedAsGlobal(reactor):
        top.privilegedStartService()
        top.startService()
        try:
            checkWireServices(reactor, *portsOf(top))
        finally:
            runUntilFired(reactor, top.stopService())


def freePorts(count: int) -> list[int]:
    """Ports free for both TCP and UDP on 127.0.0.1 right now."""
    ports: list[int] = []
    held = []
    while len(ports) < count:
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        number = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", number))
        except OSError:
            tcp.close()
            udp.close()
            continue
        held += [tcp, udp]
        ports.append(number)
    for sock in held:
        sock.close()
    return ports


def test_torsiondRunsTheWirePlugin(tmp_path: Path) -> None:
    ports = dict(zip(wiretap.DEFAULT_PORTS, freePorts(7), strict=True))
    argv = [f"--{name}={number}" for name, number in ports.items()]
    torsiond = Path(sys.executable).with_name("torsiond")
    proc = subprocess.Popen(
        [str(torsiond), "-n", "--pidfile=", "--no_save", "wire", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    reader = LineReader(proc.stdout)
    try:
        reader.waitFor(rf"TimeUDP starting on {ports['time']}", 30)
        # The server is another process: this reactor only paces the client's waits.
        reactor = SelectReactor()
        try:
            checkWireServices(reactor, ports, ports)
        finally:
            closeReactor(reactor)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        reader.waitFor(rf"\(TCP Port {ports['echo']} Closed\)", 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        reader.thread.join(5)
        proc.stdout.close()
