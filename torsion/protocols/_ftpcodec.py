"""The FTP wire format without I/O: commands, replies, addresses, paths, ASCII type.

Everything the FTP server (torsion.protocols.ftp) and client (torsion.protocols.
_ftpclient) need that is grammar rather than behaviour: ``CommandParser`` splits the
control connection's bytes into commands (Telnet sequences removed, a hard line
limit), ``ReplyParser`` splits a server's bytes into (multi-line) replies,
``formatReply`` writes one; the PORT/EPRT/PASV/EPSV argument codecs; ``toSegments``,
which resolves a path against the working directory and refuses one that climbs
above the root; and the two stateful line-end converters of TYPE A. Each is fed
bytes and gives values, so the tests drive them without sockets.
Tests: tests/protocols/test_ftpcodec.py.
"""

from __future__ import annotations

import ipaddress
import re
import stat as statmod
import time
from dataclasses import dataclass

__all__ = [
    "MAX_LINE",
    "BadArgument",
    "Command",
    "CommandParser",
    "FromNetworkASCII",
    "InvalidPath",
    "LineTooLong",
    "Reply",
    "ReplyParser",
    "ToNetworkASCII",
    "decodeEPSVReply",
    "decodeHostPort",
    "decodePASVReply",
    "encodeHostPort",
    "formatEPRT",
    "formatReply",
    "listLine",
    "mdtmTime",
    "mlsxFacts",
    "parseEPRT",
    "toSegments",
]

MAX_LINE = 4096
"""The longest command or reply line accepted, in bytes (RFC 959 sets none)."""

MAX_REPLY_LINES = 10_000
"""The most lines one multi-line reply may have before the client gives up on it."""


class LineTooLong(ValueError):
    """A control connection line was longer than MAX_LINE."""


class BadArgument(ValueError):
    """A command's argument does not follow its grammar (the reply is 501)."""


class InvalidPath(ValueError):
    """A path that leaves the root ("../" above "/") or holds a NUL byte."""


@dataclass(frozen=True, slots=True)
class Command:
    """One command line: its verb in upper case and the rest of the line, as text."""

    name: str
    argument: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: the three-digit code and its text lines (without the code)."""

    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# Telnet commands a client may mix into the control connection (RFC 959 section 4.1.3:
# ABOR is preceded by IP and Synch): IAC followed by a one-byte command, or by an
# option verb and its option. IAC IAC is a data byte 255.
_TELNET = re.compile(rb"\xff(?:[\xfb-\xfe].?|[\xf0-\xfa]|\xff)", re.DOTALL)


def _untelnet(line: bytes) -> bytes:
    if b"\xff" not in line:
        return line
    return _TELNET.sub(lambda m: b"\xff" if m.group() == b"\xff\xff" else b"", line)


class _LineBuffer:
    """Lines ending in LF (a CR before it dropped), at most MAX_LINE bytes each."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def lines(self, data: bytes) -> list[bytes]:
        self._buffer += data
        found: list[bytes] = []
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end < 0:
                break
            if end - start > MAX_LINE:
                raise LineTooLong(f"a line of {end - start} bytes; the limit is {MAX_LINE}")
            line = bytes(self._buffer[start:end])
            found.append(line[:-1] if line.endswith(b"\r") else line)
            start = end + 1
        del self._buffer[:start]
        if len(self._buffer) > MAX_LINE:
            raise LineTooLong(f"a line over {MAX_LINE} bytes without an end")
        return found


class CommandParser:
    """The server side: control connection bytes in, Commands out.

    Text is UTF-8 (RFC 2640); bytes that are not are kept as surrogate escapes so a
    file name in another encoding still round-trips to the filesystem.

    Raises (from ``feed``):
        LineTooLong: the client sent a line over MAX_LINE bytes (the server replies
            500 and closes, as it cannot tell where the next command starts).
    """

    __slots__ = ("_lines",)

    def __init__(self) -> None:
        self._lines = _LineBuffer()

    def feed(self, data: bytes) -> list[Command]:
        commands = []
        for raw in self._lines.lines(data):
            line = _untelnet(raw).decode("utf-8", "surrogateescape").lstrip()
            if not line:
                continue
            name, _, argument = line.partition(" ")
            commands.append(Command(name.upper(), argument))
        return commands


class ReplyParser:
    """The client side: a server's bytes in, Replies out (RFC 959 section 4.2).

    A multi-line reply starts with "123-" and ends with a line "123 "; the lines
    between are kept as they are (without a code prefix if they repeat it).
    """

    __slots__ = ("_code", "_lines", "_pending")

    def __init__(self) -> None:
        self._lines = _LineBuffer()
        self._pending: list[str] = []
        self._code: int | None = None

    def feed(self, data: bytes) -> list[Reply]:
        replies = []
        for raw in self._lines.lines(data):
            line = raw.decode("utf-8", "surrogateescape")
            head = line[:3]
            if self._code is None:
                if len(line) < 3 or not head.isdigit() or line[3:4] not in ("", " ", "-"):
                    raise ValueError(f"not an FTP reply line: {line[:80]!r}")
                if line[3:4] == "-":
                    self._code = int(head)
                    self._pending = [line[4:]]
                else:
                    replies.append(Reply(int(head), (line[4:],)))
            elif head == str(self._code) and line[3:4] in (" ", ""):
                self._pending.append(line[4:])
                replies.append(Reply(self._code, tuple(self._pending)))
                self._code, self._pending = None, []
            else:
                if head == str(self._code) and line[3:4] == "-":
                    line = line[4:]
                self._pending.append(line)
                if len(self._pending) > MAX_REPLY_LINES:
                    raise ValueError(f"a reply of more than {MAX_REPLY_LINES} lines")
        return replies


def formatReply(code: int, text: str) -> bytes:
    """A reply of one or more lines (newlines in ``text`` make a multi-line reply)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return f"{code} {text}\r\n".encode("utf-8", "surrogateescape")
    body = [f"{code}-{lines[0]}"]
    for line in lines[1:-1]:
        # A middle line must not look like the end of the reply: indent it.
        body.append(" " + line if line[:3].isdigit() else line)
    body.append(f"{code} {lines[-1]}")
    return ("\r\n".join(body) + "\r\n").encode("utf-8", "surrogateescape")


def encodeHostPort(host: str, port: int) -> str:
    """PASV's and PORT's form: h1,h2,h3,h4,p1,p2 (IPv4 only)."""
    return ",".join([*host.split("."), str(port >> 8), str(port & 0xFF)])


def decodeHostPort(argument: str) -> tuple[str, int]:
    """The (host, port) of a PORT argument or a PASV reply's numbers.

    Raises:
        BadArgument: not six numbers of 0-255, or port 0.
    """
    fields = argument.strip().split(",")
    try:
        numbers = [int(field) for field in fields]
    except ValueError:
        raise BadArgument(f"{argument!r} is not h1,h2,h3,h4,p1,p2") from None
    if len(numbers) != 6 or any(not 0 <= n <= 255 for n in numbers):
        raise BadArgument(f"{argument!r} is not six numbers from 0 to 255")
    port = numbers[4] << 8 | numbers[5]
    if port == 0:
        raise BadArgument("port 0 cannot be connected to")
    return ".".join(map(str, numbers[:4])), port


_PASV_NUMBERS = re.compile(r"(\d+,\d+,\d+,\d+,\d+,\d+)")


def decodePASVReply(text: str) -> tuple[str, int]:
    """The address of a 227 reply ("Entering Passive Mode (h1,h2,h3,h4,p1,p2)")."""
    match = _PASV_NUMBERS.search(text)
    if match is None:
        raise BadArgument(f"no address in the PASV reply {text!r}")
    return decodeHostPort(match.group(1))


def decodeEPSVReply(text: str) -> int:
    """The port of a 229 reply ("Entering Extended Passive Mode (|||port|)")."""
    match = re.search(r"\((.)\1\1(\d+)\1\)", text)
    if match is None:
        raise BadArgument(f"no port in the EPSV reply {text!r}")
    port = int(match.group(2))
    if not 0 < port < 65536:
        raise BadArgument(f"port {port} in the EPSV reply is out of range")
    return port


def parseEPRT(argument: str) -> tuple[str, int]:
    """The (host, port) of an EPRT argument, ``|1|132.235.1.2|6275|`` (RFC 2428).

    Raises:
        BadArgument: a malformed argument, an unknown protocol number, or an address
            that is not of the protocol it names.
    """
    if len(argument) < 7:
        raise BadArgument(f"{argument!r} is not |protocol|address|port|")
    delimiter = argument[0]
    fields = argument.split(delimiter)
    if len(fields) != 5 or fields[0] or fields[4]:
        raise BadArgument(f"{argument!r} is not |protocol|address|port|")
    family, host, portText = fields[1:4]
    if family not in ("1", "2"):
        raise BadArgument(f"network protocol {family!r} is not 1 (IPv4) or 2 (IPv6)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise BadArgument(f"{host!r} is not an IP address") from None
    if address.version != (4 if family == "1" else 6):
        raise BadArgument(f"{host!r} is not an IPv{4 if family == '1' else 6} address")
    if not portText.isdigit() or not 0 < int(portText) < 65536:
        raise BadArgument(f"{portText!r} is not a port from 1 to 65535")
    return str(address), int(portText)


def formatEPRT(host: str, port: int) -> str:
    """EPRT's argument for an address."""
    family = 2 if ":" in host else 1
    return f"|{family}|{host}|{port}|"


def toSegments(cwd: list[str], path: str) -> list[str]:
    """The path ``path`` names, as segments from the root, seen from directory ``cwd``.

    An absolute path starts at the root; "." and empty segments are skipped and ".."
    goes up one.

    Raises:
        InvalidPath: ".." above the root, or a NUL byte.
    """
    if "\0" in path:
        raise InvalidPath("a path with a NUL byte")
    segments = [] if path.startswith("/") else list(cwd)
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not segments:
                raise InvalidPath(f"{path!r} leaves the root")
            segments.pop()
        else:
            segments.append(part)
    return segments


class ToNetworkASCII:
    """TYPE A on the way out: each LF not already after a CR becomes CRLF.

    Stateful, since a CR may end one chunk and its LF start the next.
    """

    __slots__ = ("_afterCR",)

    def __init__(self) -> None:
        self._afterCR = False

    def convert(self, data: bytes) -> bytes:
        if not data:
            return data
        out = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if self._afterCR and data[:1] == b"\n":
            out = out[1:]  # the CR that went out with the last chunk
        self._afterCR = data[-1:] == b"\r"
        return out


class FromNetworkASCII:
    """TYPE A on the way in: CRLF becomes LF; a bare CR stays as it is.

    A CR at the end of a chunk is held back until the next byte shows what it was;
    ``flush`` gives it back at the end of the transfer.
    """

    __slots__ = ("_heldCR",)

    def __init__(self) -> None:
        self._heldCR = False

    def convert(self, data: bytes) -> bytes:
        if self._heldCR:
            data = b"\r" + data
            self._heldCR = False
        if data.endswith(b"\r"):
            data = data[:-1]
            self._heldCR = True
        return data.replace(b"\r\n", b"\n")

    def flush(self) -> bytes:
        held, self._heldCR = self._heldCR, False
        return b"\r" if held else b""


def mlsxFacts(name: str, attrs: dict[str, int], kind: str | None = None) -> str:
    """One MLSD/MLST entry (RFC 3659 section 7): "type=file;size=12;... name".

    ``attrs`` has "permissions" (st_mode), "size" and "mtime"; ``kind`` overrides the
    type fact ("cdir" for the listed directory itself, "pdir" for its parent).
    """
    mode = attrs.get("permissions", 0)
    if kind is None:
        if statmod.S_ISDIR(mode):
            kind = "dir"
        elif statmod.S_ISREG(mode):
            kind = "file"
        elif statmod.S_ISLNK(mode):
            kind = "OS.unix=symlink"
        else:
            kind = "OS.unix=special"
    facts = [f"type={kind}"]
    if "size" in attrs and kind == "file":
        facts.append(f"size={attrs['size']}")
    if "mtime" in attrs:
        facts.append("modify=" + time.strftime("%Y%m%d%H%M%S", time.gmtime(attrs["mtime"])))
    facts.append(f"UNIX.mode={mode & 0o7777:04o}")
    return ";".join(facts) + "; " + name


def mdtmTime(mtime: float) -> str:
    """MDTM's reply form of a modification time: YYYYMMDDHHMMSS in UTC."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(mtime))


def listLine(name: str, mode: int, size: int, mtime: float, owner: str, group: str) -> str:
    """One LIST line in the form of ``ls -l`` (what FTP clients know how to read)."""
    if time.time() - mtime < 180 * 86400:
        when = time.strftime("%b %d %H:%M", time.gmtime(mtime))
    else:
        when = time.strftime("%b %d  %Y", time.gmtime(mtime))
    return f"{statmod.filemode(mode)}   1 {owner:<8} {group:<8} {size:>12} {when} {name}"
