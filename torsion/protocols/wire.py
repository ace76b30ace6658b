"""The small services of RFC 862-868: echo, discard, chargen, qotd, who, daytime, time.

Each service comes as a stream Protocol with Twisted's name (``Echo``, ``Discard``,
``Chargen``, ``QOTD``, ``Who``, ``Daytime``, ``Time``) and as a DatagramProtocol for
UDP (``EchoUDP``, ``DiscardUDP`` and so on), because every one of these RFCs defines
both. They are handy for trying transports, and as the simplest examples of a
protocol. The bytes each sends are made by plain functions (``chargenLines``,
``daytimeText``, ``timeBytes``, ``whoText``), so TCP and UDP say the same thing.

What they guard against:

- ``Echo`` stops reading while what it wrote back waits unsent (a peer that sends
  without reading cannot make it buffer without bound); ``Chargen`` is a pull
  producer that writes the next chunk only when the previous one has drained.
- The UDP services never answer a datagram that comes from the port of one of these
  services (7, 9, 11, 13, 17, 19, 37) or from port 0: two such services on two hosts
  would otherwise answer each other for ever (the old "echo-chargen" loop). Still, a
  UDP service answers whoever claims to be the sender: bind them to a trusted
  interface (torsiond's ``wire`` plugin listens on 127.0.0.1 unless told otherwise).

``Who`` (RFC 866, "Active Users") lists the users logged in, read from the utmp file
(``/run/utmp`` on Linux; see ``readUtmp``); override ``getUsers`` to list others. The
seed's ``torsiond -n wire`` serves all seven (torsion.tap.wire).
Tests: tests/protocols/test_wire.py and tests/protocols/test_wire_sockets.py.
"""

from __future__ import annotations

import os
import random
import struct
import time
from collections.abc import Iterable
from typing import Any

from zope.interface import implementer

from torsion.internet.interfaces import IPullProducer, IPushProducer
from torsion.internet.protocol import DatagramProtocol, Protocol

__all__ = [
    "DEFAULT_QUOTE",
    "QOTD",
    "QOTDUDP",
    "RFC868_EPOCH_OFFSET",
    "UTMP_PATHS",
    "Chargen",
    "ChargenUDP",
    "Daytime",
    "DaytimeUDP",
    "Discard",
    "DiscardUDP",
    "Echo",
    "EchoUDP",
    "Time",
    "TimeUDP",
    "UtmpEntry",
    "Who",
    "WhoUDP",
    "chargenLines",
    "daytimeText",
    "readUtmp",
    "timeBytes",
    "whoText",
]

# Seconds from 1900-01-01 (RFC 868's epoch) to 1970-01-01 (the Unix epoch).
RFC868_EPOCH_OFFSET = 2208988800

DEFAULT_QUOTE = "An apple a day keeps the doctor away."

# Where the utmp file of the users logged in is, by platform, most likely first.
UTMP_PATHS = ("/run/utmp", "/var/run/utmp", "/var/adm/utmp")

# The well-known ports of these services (and 0): a UDP service never answers them.
_SERVICE_PORTS = frozenset({0, 7, 9, 11, 13, 17, 19, 37})


# -- what the services say ------------------------------------------------------------


def _chargenPattern() -> bytes:
    """One full cycle of RFC 864's pattern: 95 lines of 72 characters, each shifted."""
    printable = bytes(range(32, 127))
    doubled = printable * 2
    return b"".join(doubled[i : i + 72] + b"\r\n" for i in range(len(printable)))


_CHARGEN_CYCLE = _chargenPattern()


def chargenLines(count: int, start: int = 0) -> bytes:
    """Return ``count`` lines of RFC 864's rotating pattern, starting at line ``start``."""
    lineSize = 74
    cycleLines = len(_CHARGEN_CYCLE) // lineSize
    start %= cycleLines
    out = bytearray(_CHARGEN_CYCLE[start * lineSize :])
    while len(out) < count * lineSize:
        out += _CHARGEN_CYCLE
    return bytes(out[: count * lineSize])


def daytimeText(seconds: float) -> bytes:
    """Return RFC 867's answer for the moment ``seconds`` (Unix time), in UTC.

    The RFC leaves the format free; this is the one of RFC 822 dates, a form people
    and programs both read: ``Tue, 01 Dec 2026 10:00:00 +0000``.
    """
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(seconds)).encode() + b"\r\n"


def timeBytes(seconds: float) -> bytes:
    """Return RFC 868's answer: seconds since 1900 as a 32-bit big-endian number.

    The count passes 2**32 in February 2036; it then wraps around to 0, which is what
    RFC 868 clients that survive that date expect.
    """
    return struct.pack("!I", (int(seconds) + RFC868_EPOCH_OFFSET) % (1 << 32))


class UtmpEntry:
    """One user logged in, as the utmp file says: user, terminal, host and login time."""

    __slots__ = ("host", "line", "loginTime", "user")

    def __init__(self, user: str, line: str, host: str, loginTime: float) -> None:
        self.user = user
        self.line = line
        self.host = host
        self.loginTime = loginTime

    def __repr__(self) -> str:
        return f"UtmpEntry({self.user!r}, {self.line!r}, {self.host!r}, {self.loginTime!r})"


# glibc's struct utmp on Linux (384 bytes, the same on 32- and 64-bit machines):
# ut_type, ut_pid, ut_line[32], ut_id[4], ut_user[32], ut_host[256], ut_exit,
# ut_session, ut_tv (two 32-bit numbers), ut_addr_v6[4], 20 unused bytes.
_UTMP_RECORD = struct.Struct("=hxxi32s4s32s256shhiii16x20x")
_USER_PROCESS = 7


def _field(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def readUtmp(path: str | None = None) -> list[UtmpEntry]:
    """Return the users logged in, from the utmp file at ``path`` (by default the
    first of UTMP_PATHS that exists).

    Only Linux's (glibc's) record layout is understood. A missing file, one that
    cannot be read, or one of another layout gives an empty list (nobody known to
    be logged in) rather than an error, since a service answering a stranger should
    not fail on it.
    """
    if path is None:
        path = next((p for p in UTMP_PATHS if os.path.exists(p)), None)
        if path is None:
            return []
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 22)
    except OSError:
        return []
    size = _UTMP_RECORD.size
    if len(data) % size:
        return []
    entries = []
    for offset in range(0, len(data), size):
        kind, _pid, line, _id, user, host, _term, _exit, _session, seconds, _usec = (
            _UTMP_RECORD.unpack_from(data, offset)
        )
        if kind == _USER_PROCESS and user[:1] != b"\0":
            entries.append(UtmpEntry(_field(user), _field(line), _field(host), seconds))
    return entries


def whoText(users: Iterable[str | bytes]) -> bytes:
    """Return RFC 866's answer for ``users``: one per line, CRLF-ended (empty if none)."""
    lines = []
    for user in users:
        line = user.encode("utf-8") if isinstance(user, str) else bytes(user)
        lines.append(line.rstrip(b"\r\n") + b"\r\n")
    return b"".join(lines)


def _formatEntry(entry: UtmpEntry) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.loginTime))
    host = f" ({entry.host})" if entry.host else ""
    return f"{entry.user:<8} {entry.line:<8} {when}{host}"


class _Clocked:
    """What the time services share: the clock they read, which tests replace."""

    def currentTime(self) -> float:
        """Return the time to report, in Unix seconds (override to report another)."""
        return time.time()


class _Quoting:
    """What the QOTD services share: where the quote comes from."""

    factory: Any = None
    quote: str | bytes | None = None

    def getQuote(self) -> bytes:
        """Return the quote to send, CRLF-ended.

        The protocol's ``quote`` attribute if set, else its factory's ``quote``, else
        DEFAULT_QUOTE. RFC 865 asks for at most 512 characters; a longer quote is cut
        there.
        """
        quote = self.quote
        if quote is None:
            quote = getattr(self.factory, "quote", None)
        if quote is None:
            quote = DEFAULT_QUOTE
        data = quote.encode("utf-8") if isinstance(quote, str) else bytes(quote)
        return data.rstrip(b"\r\n")[:510] + b"\r\n"


class _Listing:
    """What the Who services share: the list of users."""

    utmpPath: str | None = None

    def getUsers(self) -> list[str]:
        """Return one line of text per user logged in (override to list others).

        By default the utmp file's user processes, as ``user line date (host)``.
        """
        return [_formatEntry(entry) for entry in readUtmp(self.utmpPath)]


# -- the stream services --------------------------------------------------------------


@implementer(IPushProducer)
class _TransportReader:
    """Pauses a transport's reading while what was written to it waits unsent.

    Registered with the transport as its streaming producer, so the transport pauses
    it when its write buffer fills and resumes it once drained.
    """

    __slots__ = ("transport",)

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def pauseProducing(self) -> None:
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        """The transport is going away: nothing to stop."""


class Echo(Protocol):
    """RFC 862: send back everything received, as it arrives.

    Reading stops while more than the transport's buffer size waits to be sent, so a
    peer that sends without reading holds only that much of the server's memory.
    """

    def connectionMade(self) -> None:
        """Pause reading whenever the echoed bytes pile up unsent.

        (On a transport that is no consumer, or has a producer already, echo as is.)
        """
        transport = self.transport
        register = getattr(transport, "registerProducer", None)
        if register is not None and getattr(transport, "producer", None) is None:
            register(_TransportReader(transport), True)

    def dataReceived(self, data: bytes) -> None:
        """Write ``data`` back to the peer."""
        self.transport.write(data)


class Discard(Protocol):
    """RFC 863: read and throw away everything received."""

    def dataReceived(self, data: bytes) -> None:
        """Ignore ``data``."""


@implementer(IPullProducer)
class Chargen(Protocol):
    """RFC 864: send lines of characters until the peer closes; ignore what it sends.

    A pull producer: the transport asks for the next chunk only once the last one
    has gone out, so a client that reads slowly, or not at all, costs one chunk of
    memory, not an ever-growing buffer.
    """

    # Lines per chunk written (74 bytes each): one full cycle of the pattern.
    linesPerChunk = 95
    _line = 0

    def connectionMade(self) -> None:
        """Start producing."""
        self.transport.registerProducer(self, False)

    def resumeProducing(self) -> None:
        """The transport has room: write the next chunk of lines."""
        chunk = chargenLines(self.linesPerChunk, self._line)
        self._line += self.linesPerChunk
        self.transport.write(chunk)

    def pauseProducing(self) -> None:
        """Nothing to do: a pull producer writes only when asked."""

    def stopProducing(self) -> None:
        """The connection is going away: nothing more to write."""

    def dataReceived(self, data: bytes) -> None:
        """Ignore what the client sends (RFC 864 says to)."""


class _OneShot(Protocol):
    """A service that says one thing on connection, then closes."""

    def answer(self) -> bytes:
        raise NotImplementedError

    def connectionMade(self) -> None:
        """Send the answer and close."""
        self.transport.write(self.answer())
        self.transport.loseConnection()


class QOTD(_Quoting, _OneShot):
    """RFC 865: send a quote and close; set ``quote`` on the protocol or its factory."""

    def answer(self) -> bytes:
        return self.getQuote()


class Who(_Listing, _OneShot):
    """RFC 866 (Active Users): send the users logged in, one per line, and close.

    With nobody logged in, the answer is empty: the connection just closes.
    """

    def answer(self) -> bytes:
        return whoText(self.getUsers())


class Daytime(_Clocked, _OneShot):
    """RFC 867: send the date and time as text, and close."""

    def answer(self) -> bytes:
        return daytimeText(self.currentTime())


class Time(_Clocked, _OneShot):
    """RFC 868: send the seconds since 1900 as a 32-bit number, and close."""

    def answer(self) -> bytes:
        return timeBytes(self.currentTime())


# -- the datagram services ------------------------------------------------------------


class _Answering(DatagramProtocol):
    """A UDP service that answers each datagram with ``reply(datagram)``."""

    noisy = False

    def reply(self, datagram: bytes) -> bytes | None:
        raise NotImplementedError

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """Answer, unless the sender is one of these services (see the module doc)."""
        if addr[1] in _SERVICE_PORTS:
            return
        answer = self.reply(datagram)
        if answer is not None:
            self.transport.write(answer, addr)


class EchoUDP(_Answering):
    """RFC 862 over UDP: send each datagram back to its sender."""

    def reply(self, datagram: bytes) -> bytes:
        return datagram


class DiscardUDP(DatagramProtocol):
    """RFC 863 over UDP: ignore every datagram."""

    noisy = False

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """Ignore ``datagram``."""


class ChargenUDP(_Answering):
    """RFC 864 over UDP: answer each datagram with 0 to 512 characters of the pattern."""

    def reply(self, datagram: bytes) -> bytes:
        return chargenLines(7, random.randrange(95))[: random.randint(0, 512)]


class QOTDUDP(_Quoting, _Answering):
    """RFC 865 over UDP: answer each datagram with the quote."""

    def reply(self, datagram: bytes) -> bytes:
        return self.getQuote()


class WhoUDP(_Listing, _Answering):
    """RFC 866 over UDP: answer each datagram with the users logged in.

    A datagram holds at most 512 bytes of the list here (whole lines), so that the
    answer is not fragmented or larger than a spoofed request is worth.
    """

    def reply(self, datagram: bytes) -> bytes:
        text = whoText(self.getUsers())
        if len(text) > 512:
            end = text.rfind(b"\r\n", 0, 512)
            text = text[: end + 2] if end >= 0 else text[:510] + b"\r\n"
        return text


class DaytimeUDP(_Clocked, _Answering):
    """RFC 867 over UDP: answer each datagram with the date and time."""

    def reply(self, datagram: bytes) -> bytes:
        return daytimeText(self.currentTime())


class TimeUDP(_Clocked, _Answering):
    """RFC 868 over UDP: answer each datagram with the 32-bit time."""

    def reply(self, datagram: bytes) -> bytes:
        return timeBytes(self.currentTime())
