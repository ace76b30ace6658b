"""
The RDATA classes of L{torsion.names.dns} (Record_A ... UnknownRecord), with one
field-driven encoder and decoder shared by every type so that adding a type is a
table entry. Tests: tests/names/test_dns.py.
"""

from __future__ import annotations

import socket
from typing import Any, ClassVar

__all__ = [
    "DNSParseError",
    "Name",
    "Record_A",
    "Record_AAAA",
    "Record_CAA",
    "Record_CNAME",
    "Record_DNAME",
    "Record_MX",
    "Record_NAPTR",
    "Record_NS",
    "Record_PTR",
    "Record_SOA",
    "Record_SRV",
    "Record_SSHFP",
    "Record_TXT",
    "UnknownRecord",
]

MAX_LABEL = 63
MAX_NAME = 255
MAX_MESSAGE = 65535


class DNSParseError(ValueError):
    """
    A DNS message (or part of one) is malformed or breaks a limit. Twisted raises
    assorted errors here (EOFError, struct.error, ValueError); torsion always raises
    this one, a ValueError, so a server can drop the datagram on one except clause.
    """


Compression = dict[bytes, int]
"""Where each name suffix (lower-cased, dotted) starts in a message being written."""


def _labels(name: bytes) -> tuple[bytes, ...]:
    name = name.rstrip(b".") if name != b"." else b""
    if not name:
        return ()
    labels = tuple(name.split(b"."))
    for label in labels:
        if not label:
            raise ValueError(f"the DNS name {name!r} has an empty label; remove the doubled dot")
        if len(label) > MAX_LABEL:
            raise ValueError(f"the DNS label {label[:20]!r}... is longer than {MAX_LABEL} bytes")
    if sum(len(label) + 1 for label in labels) + 1 > MAX_NAME:
        raise ValueError(f"the DNS name {name[:40]!r}... is longer than {MAX_NAME} bytes")
    return labels


def readName(msg: bytes, off: int) -> tuple[bytes, int]:
    """
    Read a possibly compressed name at C{off}; return it and the offset after it.
    Each pointer must point before the previous one, so loops and forward
    pointers are impossible rather than merely bounded.
    """
    labels: list[bytes] = []
    total = 1
    end = -1
    limit = off
    while True:
        if off >= len(msg):
            raise DNSParseError("a DNS name runs past the end of the message")
        length = msg[off]
        if length & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise DNSParseError("a DNS compression pointer is truncated")
            target = ((length & 0x3F) << 8) | msg[off + 1]
            if end < 0:
                end = off + 2
            if target >= limit:
                raise DNSParseError("a DNS compression pointer points forward or loops")
            limit = target
            off = target
            continue
        if length & 0xC0:
            raise DNSParseError(f"a DNS label has the reserved type bits {length >> 6:#x}")
        off += 1
        if length == 0:
            break
        label = msg[off : off + length]
        if len(label) < length:
            raise DNSParseError("a DNS label runs past the end of the message")
        if b"." in label:
            raise DNSParseError("a DNS label contains a dot, which torsion does not accept")
        total += length + 1
        if total > MAX_NAME:
            raise DNSParseError(f"a DNS name is longer than {MAX_NAME} bytes")
        labels.append(label)
        off += length
    return b".".join(labels), (end if end >= 0 else off)


def writeName(out: bytearray, name: bytes, comp: Compression | None) -> None:
    """Append C{name}, pointing to an earlier copy of a suffix where C{comp} has one.

    C{comp} maps each lower-cased suffix already written to its offset. Names are
    checked when a Name is made, so this only guards against a C{name} attribute
    set by hand to something that would corrupt the message.
    """
    if not name:
        out.append(0)
        return
    if len(name) + 2 > MAX_NAME:
        raise ValueError(f"the DNS name {name[:40]!r}... is longer than {MAX_NAME} bytes")
    lowered = name.lower()
    start = 0
    for label in name.split(b"."):
        if comp is not None:
            suffix = lowered[start:]
            where = comp.get(suffix)
            if where is not None:
                out += bytes((0xC0 | (where >> 8), where & 0xFF))
                return
            if len(out) < 0x4000:
                comp[suffix] = len(out)
        size = len(label)
        if not 0 < size <= MAX_LABEL:
            _labels(name)  # raises the error that says what is wrong
        out.append(size)
        out += label
        start += size + 1
    out.append(0)


class Name:
    """A domain name, compared without regard to ASCII case (RFC 4343)."""

    __slots__ = ("name",)

    def __init__(self, name: bytes | str | Name = b"") -> None:
        if isinstance(name, Name):
            name = name.name
        if isinstance(name, str):
            name = name.encode("idna") if name else b""
        _labels(name)
        self.name: bytes = name.rstrip(b".") if name != b"." else b""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Name):
            return self.name.lower() == other.name.lower()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name.lower())

    def __str__(self) -> str:
        return self.name.decode("ascii", "backslashreplace")

    def __repr__(self) -> str:
        return f"Name({self.name!r})"


def _u(msg: bytes, off: int, size: int) -> tuple[int, int]:
    if off + size > len(msg):
        raise DNSParseError("a DNS record's data is truncated")
    return int.from_bytes(msg[off : off + size], "big"), off + size


def _charstr(msg: bytes, off: int, end: int) -> tuple[bytes, int]:
    if off >= end:
        raise DNSParseError("a DNS character-string is truncated")
    n = msg[off]
    if off + 1 + n > end:
        raise DNSParseError("a DNS character-string runs past its record")
    return msg[off + 1 : off + 1 + n], off + 1 + n


def _putCharstr(out: bytearray, value: bytes) -> None:
    if len(value) > 255:
        raise ValueError("a DNS character-string is at most 255 bytes; split it")
    out.append(len(value))
    out += value


_INTS = {"u8": 1, "u16": 2, "u32": 4}


class _Record:
    """
    Base of the RDATA classes. C{_fields} lists (attribute, kind, default); kinds
    are u8/u16/u32, name (C{Name}), cname (a name compressed on write, RFC 3597
    allows it only for the RFC 1035 types), ip4 and ip6 (packed bytes, as in
    Twisted; the constructor also takes the text form), str (character-string),
    strs (all the remaining character-strings), rest (all remaining bytes).
    """

    TYPE: ClassVar[int] = -1
    _fields: ClassVar[tuple[tuple[str, str, Any], ...]] = ()

    def __init__(self, *args: Any, ttl: int | None = None, **kw: Any) -> None:
        if len(args) == len(self._fields) + 1:
            # Twisted's signatures end with the TTL: Record_A('192.0.2.1', 3600).
            *args, ttl = args  # type: ignore[assignment]
        if len(args) > len(self._fields):
            raise TypeError(
                f"{type(self).__name__} takes at most {len(self._fields)} values and a TTL"
            )
        for i, (attr, kind, default) in enumerate(self._fields):
            value = args[i] if i < len(args) else kw.pop(attr, default)
            setattr(self, attr, self._convert(kind, value))
        if kw:
            raise TypeError(f"{type(self).__name__} got unknown arguments {sorted(kw)}")
        self.ttl = ttl

    @staticmethod
    def _convert(kind: str, value: Any) -> Any:
        if kind in ("name", "cname"):
            return Name(value)
        if kind in ("str", "rest") and isinstance(value, str):
            return value.encode("utf-8")
        if kind == "strs":
            return [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in value]
        if kind in ("ip4", "ip6"):
            family, size = (socket.AF_INET, 4) if kind == "ip4" else (socket.AF_INET6, 16)
            if isinstance(value, bytes) and len(value) == size:
                return value
            return socket.inet_pton(family, value)
        return value

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, attr) for attr, _, _ in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            assert isinstance(other, _Record)
            return self._values() == other._values() and self.ttl == other.ttl
        return NotImplemented

    def __hash__(self) -> int:
        return hash((type(self), repr(self._values())))

    def __repr__(self) -> str:
        parts = ", ".join(f"{a}={getattr(self, a)!r}" for a, _, _ in self._fields)
        return f"<{type(self).__name__} {parts} ttl={self.ttl}>"

    def encodeInto(self, out: bytearray, comp: Compression | None) -> None:
        for attr, kind, _ in self._fields:
            value = getattr(self, attr)
            if kind in _INTS:
                out += int(value).to_bytes(_INTS[kind], "big")
            elif kind == "name":
                writeName(out, value.name, None)
            elif kind == "cname":
                writeName(out, value.name, comp)
            elif kind == "str":
                _putCharstr(out, value)
            elif kind == "strs":
                for item in value:
                    _putCharstr(out, item)
            else:
                out += value

    @classmethod
    def decodeFrom(cls, msg: bytes, off: int, end: int) -> _Record:
        """Decode RDATA spanning exactly C{msg[off:end]}."""
        self = cls.__new__(cls)
        self.ttl = None
        for attr, kind, _ in cls._fields:
            value: Any
            if kind in _INTS:
                value, off = _u(msg, off, _INTS[kind])
            elif kind in ("name", "cname"):
                raw, off = readName(msg, off)
                value = Name.__new__(Name)
                value.name = raw
            elif kind in ("ip4", "ip6") and off + (4 if kind == "ip4" else 16) > end:
                raise DNSParseError(f"a {cls.__name__}'s address is truncated")
            elif kind == "ip4":
                value, off = msg[off : off + 4], off + 4
            elif kind == "ip6":
                value, off = msg[off : off + 16], off + 16
            elif kind == "str":
                value, off = _charstr(msg, off, end)
            elif kind == "strs":
                value = []
                while off < end:
                    item, off = _charstr(msg, off, end)
                    value.append(item)
            else:
                value, off = msg[off:end], end
            if off > end:
                raise DNSParseError(f"a {cls.__name__} runs past its RDLENGTH")
            setattr(self, attr, value)
        if off != end:
            raise DNSParseError(f"a {cls.__name__}'s RDLENGTH is larger than its data")
        return self


class Record_A(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 1
    address: bytes
    _fields = (("address", "ip4", "0.0.0.0"),)

    def dottedQuad(self) -> str:
        return socket.inet_ntop(socket.AF_INET, self.address)


class Record_AAAA(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 28
    address: bytes
    _fields = (("address", "ip6", "::"),)

    def text(self) -> str:
        """The address in RFC 5952 text form (torsion's; Twisted has no such method)."""
        return socket.inet_ntop(socket.AF_INET6, self.address)


class Record_NS(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 2
    name: Name
    _fields = (("name", "cname", b""),)


class Record_CNAME(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 5
    name: Name
    _fields = (("name", "cname", b""),)


class Record_PTR(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 12
    name: Name
    _fields = (("name", "cname", b""),)


class Record_DNAME(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 39
    name: Name
    _fields = (("name", "name", b""),)


class Record_SOA(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 6
    mname: Name
    rname: Name
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int
    _fields = (
        ("mname", "cname", b""),
        ("rname", "cname", b""),
        ("serial", "u32", 0),
        ("refresh", "u32", 0),
        ("retry", "u32", 0),
        ("expire", "u32", 0),
        ("minimum", "u32", 0),
    )


class Record_MX(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 15
    preference: int
    name: Name
    _fields = (("preference", "u16", 0), ("name", "cname", b""))


class Record_TXT(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 16
    data: list[bytes]
    _fields = (("data", "strs", ()),)

    def __init__(self, *data: bytes | str, ttl: int | None = None) -> None:
        super().__init__(data, ttl=ttl)


class Record_SRV(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 33
    priority: int
    weight: int
    port: int
    target: Name
    _fields = (
        ("priority", "u16", 0),
        ("weight", "u16", 0),
        ("port", "u16", 0),
        ("target", "name", b""),
    )


class Record_NAPTR(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 35
    order: int
    preference: int
    flags: bytes
    service: bytes
    regexp: bytes
    replacement: Name
    _fields = (
        ("order", "u16", 0),
        ("preference", "u16", 0),
        ("flags", "str", b""),
        ("service", "str", b""),
        ("regexp", "str", b""),
        ("replacement", "name", b""),
    )


class Record_SSHFP(_Record):  # noqa: N801 (Twisted\'s names)
    TYPE = 44
    algorithm: int
    fingerprintType: int
    fingerprint: bytes
    _fields = (("algorithm", "u8", 0), ("fingerprintType", "u8", 0), ("fingerprint", "rest", b""))


class Record_CAA(_Record):  # noqa: N801 (Twisted\'s names)
    """CAA (RFC 8659); Twisted has no class for it, so the name is torsion's."""

    TYPE = 257
    flag: int
    tag: bytes
    value: bytes
    _fields = (("flag", "u8", 0), ("tag", "str", b""), ("value", "rest", b""))


class UnknownRecord(_Record):
    """Any type torsion does not parse: its RDATA kept as opaque bytes (RFC 3597)."""

    data: bytes
    _fields = (("data", "rest", b""),)


RECORD_TYPES: dict[int, type[_Record]] = {
    cls.TYPE: cls
    for cls in (
        Record_A,
        Record_AAAA,
        Record_NS,
        Record_CNAME,
        Record_PTR,
        Record_DNAME,
        Record_SOA,
        Record_MX,
        Record_TXT,
        Record_SRV,
        Record_NAPTR,
        Record_SSHFP,
        Record_CAA,
    )
}
