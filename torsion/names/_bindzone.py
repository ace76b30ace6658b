"""
The BIND (RFC 1035 section 5) master-file parser behind authority.BindAuthority,
sans-IO apart from $INCLUDE: text in, (owner, ttl, Record_*, where) entries out.

It knows $ORIGIN, $TTL (RFC 2308), $INCLUDE (only of files inside the directory of
the zone file, and only when the caller allows it), relative names and ``@``,
parentheses over several lines, quoted strings with RFC 1035 escapes, multi-string
TXT, time values with units (``1h30m``, ``2w``), the generic ``TYPEnnn \\# len hex``
form of RFC 3597, and the old defaults: an omitted TTL is the last one given, else
$TTL, else the SOA's minimum. Every error is a ZoneFileError naming the file and
line. Tests: tests/names/test_authority_bind.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from torsion.names import dns
from torsion.names._dnsrecords import _Record

__all__ = [
    "MAX_INCLUDE_DEPTH",
    "MAX_ZONE_BYTES",
    "ZoneEntry",
    "ZoneFileError",
    "parseTime",
    "parseZone",
    "readZoneFile",
]

MAX_ZONE_BYTES = 64 * 1024 * 1024
MAX_INCLUDE_DEPTH = 8

ZoneEntry = tuple[bytes, int, _Record, str]
"""(owner, ttl, record, "file:line"), the last for later errors about the record."""


class ZoneFileError(ValueError):
    """A zone file could not be read; the message names the file and the line."""


class _LineError(ValueError):
    pass


_TIME = re.compile(r"(\d+)([smhdw]?)", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parseTime(text: str) -> int:
    """Seconds in a BIND time value: ``3600``, ``1h``, ``1W2d``, ``90M`` (RFC 1035, BIND)."""
    pos = 0
    total = 0
    if not text:
        raise ValueError("a time value is empty")
    while pos < len(text):
        match = _TIME.match(text, pos)
        if match is None or (match.group(2) == "" and pos and match.end() != len(text)):
            raise ValueError(f"{text!r} is not a time value (seconds, or units like 1h30m, 2d, 1w)")
        total += int(match.group(1)) * _UNITS[match.group(2).lower()]
        pos = match.end()
    if total >= 2**31:
        raise ValueError(f"the time value {text!r} is over 2**31-1 seconds")
    return total


class _Token:
    __slots__ = ("quoted", "text")

    def __init__(self, text: bytes, quoted: bool) -> None:
        self.text = text
        self.quoted = quoted


def _entries(data: bytes) -> list[tuple[int, bool, list[_Token]]]:
    """Split the file into logical entries: (first line, starts with blank, tokens)."""
    out: list[tuple[int, bool, list[_Token]]] = []
    tokens: list[_Token] = []
    line = 1
    start = 1
    indented = False
    depth = 0
    i = 0
    n = len(data)
    atLineStart = True
    while i < n:
        c = data[i]
        if atLineStart and depth == 0:
            atLineStart = False
            start = line
            indented = c in b" \t"
        if c == 0x0A:
            line += 1
            atLineStart = True
            i += 1
            if depth == 0:
                if tokens:
                    out.append((start, indented, tokens))
                tokens = []
            continue
        if c in b" \t\r":
            i += 1
            continue
        if c == 0x3B:  # ';' to the end of the line
            while i < n and data[i] != 0x0A:
                i += 1
            continue
        if c == 0x28:
            depth += 1
            i += 1
            continue
        if c == 0x29:
            if depth == 0:
                raise _LineError(f"{line}: a ')' without its '('")
            depth -= 1
            i += 1
            continue
        if c == 0x22:
            i += 1
            word = bytearray()
            opened = line
            while True:
                if i >= n:
                    raise _LineError(f"{opened}: a quoted string is not closed; add the '\"'")
                c = data[i]
                if c == 0x22:
                    i += 1
                    break
                if c == 0x0A:
                    line += 1
                if c == 0x5C:
                    i = _escape(data, i, word, line)
                    continue
                word.append(c)
                i += 1
            tokens.append(_Token(bytes(word), True))
            continue
        if data[i : i + 2] == b"\\#" and data[i + 2 : i + 3] in (b"", b" ", b"\t", b"\n", b"\r"):
            # RFC 3597's marker of generic data, kept apart from an escaped '#'.
            tokens.append(_Token(b"\\#", False))
            i += 2
            continue
        word = bytearray()
        while i < n and data[i] not in b' \t\r\n;()"':
            if data[i] == 0x5C:
                i = _escape(data, i, word, line)
            else:
                word.append(data[i])
                i += 1
        tokens.append(_Token(bytes(word), False))
    if depth:
        raise _LineError(f"{start}: a '(' is never closed; add the ')'")
    if tokens:
        out.append((start, indented, tokens))
    return out


def _escape(data: bytes, i: int, word: bytearray, line: int) -> int:
    # RFC 1035 5.1: \X is X itself, \DDD the byte with that decimal value.
    digits = data[i + 1 : i + 4]
    if len(digits) == 3 and digits.isdigit():
        value = int(digits)
        if value > 255:
            raise _LineError(f"{line}: the escape \\{digits.decode()} is over 255")
        word.append(value)
        return i + 4
    if i + 1 >= len(data) or data[i + 1] == 0x0A:
        raise _LineError(f"{line}: a backslash at the end of a line")
    word.append(data[i + 1])
    return i + 2


_CLASSES = {b"IN": dns.IN, b"CH": dns.CH, b"HS": dns.HS, b"CS": dns.CS}
_TYPES: dict[bytes, int] = {
    b"A": dns.A,
    b"AAAA": dns.AAAA,
    b"NS": dns.NS,
    b"CNAME": dns.CNAME,
    b"SOA": dns.SOA,
    b"PTR": dns.PTR,
    b"MX": dns.MX,
    b"TXT": dns.TXT,
    b"SRV": dns.SRV,
    b"NAPTR": dns.NAPTR,
    b"SSHFP": dns.SSHFP,
    b"CAA": dns.CAA,
    b"DNAME": dns.DNAME,
}


_NAME_TYPES: dict[
    int, type[dns.Record_NS | dns.Record_CNAME | dns.Record_PTR | dns.Record_DNAME]
] = {
    dns.NS: dns.Record_NS,
    dns.CNAME: dns.Record_CNAME,
    dns.PTR: dns.Record_PTR,
    dns.DNAME: dns.Record_DNAME,
}


def _typeOf(word: bytes) -> int | None:
    upper = word.upper()
    if upper in _TYPES:
        return _TYPES[upper]
    if upper.startswith(b"TYPE") and upper[4:].isdigit():
        value = int(upper[4:])
        if not 0 < value < 65536 or value in (dns.OPT, dns.AXFR, dns.ALL_RECORDS):
            raise ValueError(f"{word.decode()} is not a record type a zone can hold")
        return value
    return None


def _isTime(word: bytes) -> bool:
    return bool(word) and word[:1].isdigit()


class _Parser:
    def __init__(
        self,
        origin: bytes,
        filename: str,
        includes: Callable[[str], tuple[str, bytes]] | None,
        defaultTTL: int | None,
    ) -> None:
        self.origin = origin
        self.filename = filename
        self.includes = includes
        self.ttl = defaultTTL
        self.lastTTL: int | None = None
        self.lastOwner: bytes | None = None
        self.soaMinimum: int | None = None
        self.entries: list[ZoneEntry] = []

    def name(self, word: bytes, origin: bytes) -> bytes:
        if word == b"@":
            return origin
        if word.endswith(b"."):
            absolute = word.rstrip(b".") if word != b"." else b""
        else:
            absolute = word + b"." + origin if origin else word
        try:
            return dns.Name(absolute).name
        except ValueError as e:
            raise ValueError(f"the name {word.decode('ascii', 'replace')!r}: {e}") from None

    def run(self, data: bytes, filename: str, depth: int) -> None:
        origin = self.origin
        try:
            entries = _entries(data)
        except _LineError as e:
            raise ZoneFileError(f"{filename}:{e}") from None
        for line, indented, tokens in entries:
            try:
                origin = self.entry(line, indented, tokens, origin, filename, depth)
            except ZoneFileError:
                raise
            except (ValueError, TypeError, OSError) as e:
                raise ZoneFileError(f"{filename}:{line}: {e}") from None

    def entry(
        self,
        line: int,
        indented: bool,
        tokens: list[_Token],
        origin: bytes,
        filename: str,
        depth: int,
    ) -> bytes:
        first = tokens[0].text
        if not tokens[0].quoted and first.startswith(b"$"):
            return self.directive(first.upper(), tokens[1:], origin, filename, depth)
        words = list(tokens)
        if indented:
            if self.lastOwner is None:
                raise ValueError(
                    "the first record has no owner name; put it at the start of the line"
                )
            owner = self.lastOwner
        else:
            owner = self.name(words.pop(0).text, origin)
        self.lastOwner = owner
        ttl: int | None = None
        cls = dns.IN
        rtype: int | None = None
        while words:
            word = words.pop(0)
            if word.quoted:
                raise ValueError(f"expected a TTL, class or type, not the string {word.text!r}")
            found = _typeOf(word.text)
            if found is not None:
                rtype = found
                break
            if word.text.upper() in _CLASSES:
                cls = _CLASSES[word.text.upper()]
            elif _isTime(word.text) and ttl is None:
                ttl = parseTime(word.text.decode("ascii"))
            else:
                raise ValueError(
                    f"{word.text.decode('ascii', 'replace')!r} is not a TTL, class or "
                    "record type this server knows (use TYPEnnn \\# for other types)"
                )
        if rtype is None:
            raise ValueError("the record has no type (A, MX, TXT, ...)")
        if cls != dns.IN:
            raise ValueError("only class IN records can be served; remove the class or use IN")
        record = self.rdata(rtype, words, origin)
        if rtype == dns.SOA:
            assert isinstance(record, dns.Record_SOA)
            self.soaMinimum = record.minimum
        if ttl is not None:
            self.lastTTL = ttl
        elif self.ttl is not None:
            ttl = self.ttl
        elif self.lastTTL is not None:
            ttl = self.lastTTL
        elif self.soaMinimum is not None:
            ttl = self.soaMinimum
        else:
            raise ValueError(
                "the record has no TTL and there is no $TTL or SOA before it to take one from"
            )
        record.ttl = ttl
        self.entries.append((owner, ttl, record, f"{filename}:{line}"))
        return origin

    def directive(
        self, word: bytes, args: list[_Token], origin: bytes, filename: str, depth: int
    ) -> bytes:
        if word == b"$ORIGIN":
            if len(args) != 1:
                raise ValueError("$ORIGIN takes one name")
            return self.name(args[0].text, origin)
        if word == b"$TTL":
            if len(args) != 1:
                raise ValueError("$TTL takes one time value")
            self.ttl = parseTime(args[0].text.decode("ascii", "replace"))
            return origin
        if word == b"$INCLUDE":
            if not args or len(args) > 2:
                raise ValueError("$INCLUDE takes a file name and an optional origin")
            if self.includes is None:
                raise ValueError(
                    "$INCLUDE is not allowed here: put the records in the zone file itself"
                )
            if depth >= MAX_INCLUDE_DEPTH:
                raise ValueError(f"$INCLUDE is nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)")
            included, data = self.includes(os.fsdecode(args[0].text))
            saved = (self.origin, self.lastOwner)
            if len(args) == 2:
                self.origin = self.name(args[1].text, origin)
            else:
                self.origin = origin
            self.run(data, included, depth + 1)
            # RFC 1035: the origin (and owner) in force before the $INCLUDE come back.
            self.origin, self.lastOwner = saved
            return origin
        raise ValueError(f"{word.decode('ascii', 'replace')} is not a directive this server knows")

    def rdata(self, rtype: int, words: list[_Token], origin: bytes) -> _Record:
        text = [w.text for w in words]

        def need(count: int, what: str) -> None:
            if len(text) != count:
                raise ValueError(f"{what} (got {len(text)} values)")

        if len(text) >= 1 and text[0] == b"\\#" and not words[0].quoted:
            return _generic(rtype, text[1:])
        if rtype == dns.A:
            need(1, "an A record takes one IPv4 address")
            return dns.Record_A(_ip(text[0], 4))
        if rtype == dns.AAAA:
            need(1, "an AAAA record takes one IPv6 address")
            return dns.Record_AAAA(_ip(text[0], 6))
        if rtype in _NAME_TYPES:
            need(1, "this record takes one name")
            return _NAME_TYPES[rtype](self.name(text[0], origin))
        if rtype == dns.SOA:
            need(7, "an SOA record takes mname rname serial refresh retry expire minimum")
            serial = _int(text[2], 32, "the serial")
            times = [parseTime(t.decode("ascii", "replace")) for t in text[3:]]
            return dns.Record_SOA(
                self.name(text[0], origin), self.name(text[1], origin), serial, *times
            )
        if rtype == dns.MX:
            need(2, "an MX record takes a preference and a host name")
            return dns.Record_MX(_int(text[0], 16, "the preference"), self.name(text[1], origin))
        if rtype == dns.TXT:
            if not text:
                raise ValueError("a TXT record takes one or more strings")
            for t in text:
                if len(t) > 255:
                    raise ValueError(
                        "a TXT string is at most 255 bytes; split it into several quoted strings"
                    )
            return dns.Record_TXT(*text)
        if rtype == dns.SRV:
            need(4, "an SRV record takes priority weight port target")
            return dns.Record_SRV(
                _int(text[0], 16, "the priority"),
                _int(text[1], 16, "the weight"),
                _int(text[2], 16, "the port"),
                self.name(text[3], origin),
            )
        if rtype == dns.NAPTR:
            need(6, "a NAPTR record takes order preference flags service regexp replacement")
            for t in text[2:5]:
                if len(t) > 255:
                    raise ValueError("a NAPTR string is at most 255 bytes")
            return dns.Record_NAPTR(
                _int(text[0], 16, "the order"),
                _int(text[1], 16, "the preference"),
                text[2],
                text[3],
                text[4],
                self.name(text[5], origin),
            )
        if rtype == dns.SSHFP:
            if len(text) < 3:
                raise ValueError("an SSHFP record takes algorithm type fingerprint")
            return dns.Record_SSHFP(
                _int(text[0], 8, "the algorithm"),
                _int(text[1], 8, "the fingerprint type"),
                _hex(b"".join(text[2:])),
            )
        if rtype == dns.CAA:
            need(3, "a CAA record takes flags tag value")
            if not text[1].isalnum() or len(text[1]) > 255:
                raise ValueError(f"the CAA tag {text[1]!r} must be letters and digits")
            return dns.Record_CAA(_int(text[0], 8, "the flags"), text[1], text[2])
        raise ValueError(
            f"type {rtype} has no text form here: write it as TYPE{rtype} \\# LENGTH HEX (RFC 3597)"
        )


def _int(word: bytes, bits: int, what: str) -> int:
    if not word.isdigit() or int(word) >= 2**bits:
        raise ValueError(f"{what} must be a number from 0 to {2**bits - 1}, not {word!r}")
    return int(word)


def _ip(word: bytes, version: int) -> str:
    import ipaddress

    text = word.decode("ascii", "replace")
    try:
        if version == 4:
            return str(ipaddress.IPv4Address(text))
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv{version} address") from None


def _hex(word: bytes) -> bytes:
    try:
        return bytes.fromhex(word.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{word[:40]!r} is not hexadecimal") from None


def _generic(rtype: int, text: list[bytes]) -> _Record:
    if not text:
        raise ValueError("\\# takes a length and the data in hexadecimal")
    length = _int(text[0], 16, "the RFC 3597 data length")
    data = _hex(b"".join(text[1:])) if len(text) > 1 else b""
    if len(data) != length:
        raise ValueError(f"the RFC 3597 data is {len(data)} bytes, but its length says {length}")
    kind = dns.Message().lookupRecordType(rtype)
    try:
        record = kind.decodeFrom(data, 0, len(data))
    except dns.DNSParseError as e:
        raise ValueError(f"the RFC 3597 data is not a valid type {rtype} record: {e}") from None
    if isinstance(record, dns.UnknownRecord):
        record.TYPE = rtype  # type: ignore[misc]
    return record


def _confinedReader(directory: Path) -> Callable[[str], tuple[str, bytes]]:
    root = directory.resolve()

    def read(name: str) -> tuple[str, bytes]:
        path = (root / name).resolve()
        if path != root and root not in path.parents:
            raise ValueError(
                f"$INCLUDE {name}: only files inside {root} may be included; move the file there"
            )
        return str(path), _readBounded(path)

    return read


def _readBounded(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_ZONE_BYTES + 1)
    if len(data) > MAX_ZONE_BYTES:
        raise ValueError(f"{path} is over {MAX_ZONE_BYTES} bytes; that is too big for a zone file")
    return data


def parseZone(
    data: bytes | str,
    origin: bytes | str = b"",
    filename: str = "<zone>",
    includeDirectory: str | os.PathLike[str] | None = None,
    defaultTTL: int | None = None,
) -> list[ZoneEntry]:
    """
    Parse a BIND zone file's text into (owner, ttl, record) entries, in file order.

    Args:
        data: the file's contents.
        origin: the origin before any $ORIGIN (the zone's name).
        filename: the name errors give.
        includeDirectory: the directory $INCLUDE may read files from (and below);
            None refuses $INCLUDE.
        defaultTTL: the TTL before any $TTL.

    Raises:
        ZoneFileError: naming the file and line of the first problem.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(origin, str):
        origin = origin.encode("idna") if origin else b""
    try:
        originName = dns.Name(origin).name
    except ValueError as e:
        raise ZoneFileError(f"{filename}: the origin {origin!r}: {e}") from None
    reader = None if includeDirectory is None else _confinedReader(Path(includeDirectory))
    parser = _Parser(originName, filename, reader, defaultTTL)
    parser.run(data, filename, 0)
    return parser.entries


def readZoneFile(path: str | os.PathLike[str], origin: bytes | str = b"") -> list[ZoneEntry]:
    """Read and parse a zone file; $INCLUDE may name files in the same directory."""
    where = Path(path)
    try:
        data = _readBounded(where)
    except (OSError, ValueError) as e:
        raise ZoneFileError(f"the zone file {path} cannot be read: {e}") from None
    return parseZone(data, origin, str(path), where.parent)
