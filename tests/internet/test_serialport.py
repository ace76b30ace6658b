"""SerialPort over a pty pair standing in for a device, on every reactor.

The pty's slave side is the "device" that SerialPort opens through pyserial; the test
plays the far end on the master side with plain os.read/os.write.
"""

from __future__ import annotations

import os
import pty
import termios
from collections.abc import Iterator
from typing import Any

import pytest

from tests.internet import reactormixins
from torsion.internet import error
from torsion.internet.protocol import Protocol
from torsion.python.failure import Failure

serial = pytest.importorskip("serial", reason="pyserial is not installed (the serial extra)")

from torsion.internet import serialport  # noqa: E402

reactor = reactormixins.reactor
oneReactor = reactormixins.oneReactor


class Recorder(Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.lost: Failure | None = None
        self.made = 0

    def connectionMade(self) -> None:
        self.made += 1

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        self.lost = reason


@pytest.fixture
def ptyPair() -> Iterator[tuple[int, str]]:
    """The master descriptor (the far end) and the slave's path (the "device")."""
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    os.set_blocking(master, False)
    try:
        yield master, path
    finally:
        try:
            os.close(master)
        except OSError:
            pass


def readMaster(master: int) -> bytes:
    try:
        return os.read(master, 65536)
    except (BlockingIOError, OSError):
        return b""


def test_bytesFromTheDeviceReachTheProtocol(reactor: Any, ptyPair: tuple[int, str]) -> None:
    master, path = ptyPair
    proto = Recorder()
    port = serialport.SerialPort(proto, path, reactor, baudrate=115200)
    assert proto.made == 1 and proto.transport is port
    os.write(master, b"hello\r\nbinary \x00\xff\x13\x11 bytes")
    reactormixins.runUntil(reactor, lambda: len(proto.data) >= 24)
    # The line is raw: no CR/LF translation, no flow-control characters eaten.
    assert bytes(proto.data) == b"hello\r\nbinary \x00\xff\x13\x11 bytes"
    port.loseConnection()
    reactormixins.runUntil(reactor, lambda: proto.lost is not None)


def test_writesReachTheDevice(reactor: Any, ptyPair: tuple[int, str]) -> None:
    master, path = ptyPair
    proto = Recorder()
    port = serialport.SerialPort(proto, path, reactor)
    payload = bytes(range(256)) * 64  # more than one write of the pty takes at once
    received = bytearray()
    port.write(payload)
    port.writeSequence([b"tail", b"-end"])

    def drained() -> bool:
        received.extend(readMaster(master))
        return len(received) >= len(payload) + 8

    reactormixins.runUntil(reactor, drained)
    assert bytes(received) == payload + b"tail-end"
    port.loseConnection()
    reactormixins.runUntil(reactor, lambda: proto.lost is not None)
    assert proto.lost is not None and proto.lost.check(error.ConnectionDone)
    assert port.fileno() == -1


def test_theDeviceGoingAwayLosesTheConnection(reactor: Any, ptyPair: tuple[int, str]) -> None:
    master, path = ptyPair
    proto = Recorder()
    serialport.SerialPort(proto, path, reactor)
    os.write(master, b"last words")
    reactormixins.runUntil(reactor, lambda: proto.data == b"last words")
    os.close(master)
    reactormixins.runUntil(reactor, lambda: proto.lost is not None)
    assert proto.lost is not None and proto.lost.check(error.ConnectionDone, error.ConnectionLost)


def test_lineSettingsReachTheTerminal(oneReactor: Any, ptyPair: tuple[int, str]) -> None:
    _, path = ptyPair
    proto = Recorder()
    port = serialport.SerialPort(
        proto,
        path,
        oneReactor,
        baudrate=4800,
        bytesize=serialport.SEVENBITS,
        parity=serialport.PARITY_EVEN,
        stopbits=serialport.STOPBITS_TWO,
    )
    attributes = termios.tcgetattr(port.fileno())
    assert attributes[4] == termios.B4800 and attributes[5] == termios.B4800
    # Linux's pty driver forces eight bits without parity whatever is asked; the stop
    # bits and the speed it keeps, so those show the settings reach the terminal.
    assert attributes[2] & termios.CSTOPB
    assert (port._serial.bytesize, port._serial.parity) == (7, "E")
    port.setBaudRate(38400)
    port.setStopBits(serialport.STOPBITS_ONE)
    attributes = termios.tcgetattr(port.fileno())
    assert attributes[4] == termios.B38400
    assert not attributes[2] & termios.CSTOPB
    port.flushInput()
    port.flushOutput()
    port.loseConnection()
    reactormixins.runUntil(oneReactor, lambda: proto.lost is not None)


def test_aMissingDeviceIsAClearErrorAndConnectsNothing(oneReactor: Any, tmp_path: Any) -> None:
    proto = Recorder()
    with pytest.raises(serial.SerialException, match="nothing-here"):
        serialport.SerialPort(proto, str(tmp_path / "nothing-here"), oneReactor)
    assert proto.made == 0


def test_aProducerIsPausedWhileTheDeviceIsSlow(oneReactor: Any, ptyPair: tuple[int, str]) -> None:
    """Nobody reads the master: the port's buffer fills and its producer is paused."""
    _, path = ptyPair
    proto = Recorder()
    port = serialport.SerialPort(proto, path, oneReactor)

    class Producer:
        paused = 0

        def pauseProducing(self) -> None:
            self.paused += 1

        def resumeProducing(self) -> None:
            pass

        def stopProducing(self) -> None:
            pass

    producer = Producer()
    port.registerProducer(producer, True)
    port.write(b"x" * (port.bufferSize + 1))
    assert producer.paused == 1
    port.unregisterProducer()
    port.connectionLost(Failure(error.ConnectionDone()))
    assert proto.lost is not None


def test_lineConstantsArePyserials() -> None:
    names = ["FIVEBITS", "SEVENBITS", "EIGHTBITS", "PARITY_NONE", "PARITY_ODD", "PARITY_MARK"]
    names += ["STOPBITS_ONE", "STOPBITS_ONE_POINT_FIVE", "STOPBITS_TWO", "PARITY_SPACE"]
    for name in names:
        assert getattr(serialport, name) == getattr(serial, name), name
