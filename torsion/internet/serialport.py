"""Serial ports (RS-232, USB serial adapters, GPS receivers, modems) as transports.

``SerialPort(protocol, deviceNameOrPortNumber, reactor, baudrate=9600, ...)`` opens the
device with pyserial (the optional ``serial`` extra: ``pip install 'torsion[serial]'``),
which sets the line (speed, byte size, parity, stop bits, flow control), and then
hands its descriptor to the reactor: reads and writes are the reactor's, non-blocking,
buffered and flow-controlled like a TCP connection's (a FileDescriptor). It works on
every POSIX reactor, asyncio's included. The protocol's ``makeConnection`` is called at
once; ``connectionLost`` when the port is closed (``loseConnection``) or the device
goes away (a USB adapter unplugged, the far end of a pty closed).

The names are Twisted's: the pyserial constants (``PARITY_NONE``, ``EIGHTBITS``,
``STOPBITS_ONE``, ...) are importable from here, and the port has ``setBaudRate``,
``setParity``, ``flushInput``, ``sendBreak``, ``getDSR``, ``setRTS`` and the rest.
Windows is not supported (its serial ports are not selectable descriptors).
Tests: tests/internet/test_serialport.py and tests/positioning/test_serialnmea.py (a
pty pair standing in for the device).
"""

from __future__ import annotations

from typing import Any

from torsion.internet import error, fdesc
from torsion.internet.abstract import FileDescriptor
from torsion.internet.address import _ProcessAddress
from torsion.python.failure import Failure

try:
    import serial as _pyserial  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - exercised only without pyserial
    _pyserial = None

# pyserial's values for the line settings, importable without it (as Twisted's are).
FIVEBITS, SIXBITS, SEVENBITS, EIGHTBITS = 5, 6, 7, 8
PARITY_NONE, PARITY_EVEN, PARITY_ODD, PARITY_MARK, PARITY_SPACE = "N", "E", "O", "M", "S"
STOPBITS_ONE, STOPBITS_ONE_POINT_FIVE, STOPBITS_TWO = 1, 1.5, 2

__all__ = [
    "EIGHTBITS",
    "FIVEBITS",
    "PARITY_EVEN",
    "PARITY_MARK",
    "PARITY_NONE",
    "PARITY_ODD",
    "PARITY_SPACE",
    "SEVENBITS",
    "SIXBITS",
    "STOPBITS_ONE",
    "STOPBITS_ONE_POINT_FIVE",
    "STOPBITS_TWO",
    "SerialPort",
]

# Read this much at a time: a serial line delivers little, but a pty or a fast USB
# adapter can deliver a lot between two passes of the loop.
_READ_SIZE = 65536


def _requireSerial() -> Any:
    if _pyserial is None:
        raise ImportError(
            "torsion.internet.serialport needs pyserial: pip install 'torsion[serial]' "
            "(or pip install pyserial)"
        )
    return _pyserial


class SerialPort(FileDescriptor):
    """A serial device as a transport for ``protocol``.

    Args:
        protocol: the Protocol to connect; its ``makeConnection`` is called at once.
        deviceNameOrPortNumber: a device path (``/dev/ttyUSB0``, a pty's
            ``/dev/pts/N``), or a pyserial port number.
        reactor: the reactor that watches the descriptor.
        baudrate, bytesize, parity, stopbits, xonxoff, rtscts: the line settings,
            with pyserial's meanings and constants.
        timeout: accepted for Twisted's signature and ignored: the port is always
            non-blocking, and the reactor decides when to read.

    Raises:
        ImportError: without pyserial, saying how to install it.
        serial.SerialException: if the device cannot be opened (missing, busy, not a
            terminal); the protocol is not connected then.
    """

    __slots__ = ("_serial", "protocol")

    def __init__(
        self,
        protocol: Any,
        deviceNameOrPortNumber: str | int,
        reactor: Any,
        baudrate: int = 9600,
        bytesize: int = EIGHTBITS,
        parity: str = PARITY_NONE,
        stopbits: float = STOPBITS_ONE,
        timeout: float | None = 0,
        xonxoff: bool = False,
        rtscts: bool = False,
    ) -> None:
        super().__init__(reactor)
        pyserial = _requireSerial()
        port = deviceNameOrPortNumber
        if isinstance(port, int):
            port = f"/dev/ttyS{port}"
        self._serial = pyserial.Serial(
            port,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            timeout=0,
            xonxoff=xonxoff,
            rtscts=rtscts,
        )
        fdesc.setNonBlocking(self._serial.fileno())
        self.protocol = protocol
        self.connected = True
        self.flushInput()
        self.flushOutput()
        protocol.makeConnection(self)
        self.startReading()

    def __repr__(self) -> str:
        return f"<SerialPort {self._serial.port!r} at {self._serial.baudrate} baud>"

    def fileno(self) -> int:
        """The device's descriptor, or -1 once the port is closed."""
        if self._serial.is_open:
            return int(self._serial.fileno())
        return -1

    def logPrefix(self) -> str:
        """The protocol's class name, as for other transports."""
        return type(self.protocol).__name__

    def getHost(self) -> _ProcessAddress:
        """An address with nothing in it: a serial line has no network address."""
        return _ProcessAddress()

    getPeer = getHost

    # -- the data path --------------------------------------------------------------

    def doRead(self) -> object:
        """Hand what the device has to the protocol; the end of the device ends us."""
        result = fdesc.readFromFD(self.fileno(), self.protocol.dataReceived, _READ_SIZE)
        if isinstance(result, error.ConnectionLost) and "Input/output error" in str(result):
            # A pty whose master side closed, or an unplugged adapter: EIO.
            return error.ConnectionDone("the serial device went away")
        return result

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        """Write what the device takes now."""
        return fdesc.writeToFD(self.fileno(), data)

    def connectionLost(self, reason: Any) -> None:
        """Close the device and tell the protocol (once)."""
        if self.disconnected:
            return
        super().connectionLost(reason)
        try:
            self._serial.close()
        except OSError:
            pass
        self.protocol.connectionLost(reason if isinstance(reason, Failure) else Failure(reason))

    # -- Twisted's line-control methods, delegated to pyserial ------------------------

    def setBaudRate(self, baudrate: int) -> None:
        """Change the line speed."""
        self._serial.baudrate = baudrate

    def setByteSize(self, bytesize: int) -> None:
        """Change the number of data bits (FIVEBITS ... EIGHTBITS)."""
        self._serial.bytesize = bytesize

    def setParity(self, parity: str) -> None:
        """Change the parity (PARITY_NONE, PARITY_EVEN, ...)."""
        self._serial.parity = parity

    def setStopBits(self, stopbits: float) -> None:
        """Change the number of stop bits (STOPBITS_ONE, ...)."""
        self._serial.stopbits = stopbits

    def flushInput(self) -> None:
        """Discard what the device received and nobody read yet."""
        self._serial.reset_input_buffer()

    def flushOutput(self) -> None:
        """Discard what the device has not sent yet (torsion's own buffer is kept)."""
        self._serial.reset_output_buffer()

    def sendBreak(self) -> None:
        """Send a break condition (0.25 seconds)."""
        self._serial.send_break()

    def getDSR(self) -> bool:
        """The Data Set Ready line."""
        return bool(self._serial.dsr)

    def getCD(self) -> bool:
        """The Carrier Detect line."""
        return bool(self._serial.cd)

    def getRI(self) -> bool:
        """The Ring Indicator line."""
        return bool(self._serial.ri)

    def getCTS(self) -> bool:
        """The Clear To Send line."""
        return bool(self._serial.cts)

    def setDTR(self, on: bool = True) -> None:
        """Raise or lower Data Terminal Ready."""
        self._serial.dtr = on

    def setRTS(self, on: bool = True) -> None:
        """Raise or lower Request To Send."""
        self._serial.rts = on
