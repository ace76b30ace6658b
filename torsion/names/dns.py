"""
torsion.names.dns: a sans-IO DNS message codec (RFC 1035, 3596, 2782, 3403, 4255,
8659, 6672, 6891) under Twisted's names: Message (toStr/fromStr), Query, RRHeader,
Name, Record_*, UnknownRecord and OPTHeader (Twisted's _OPTHeader) for EDNS0.

Untrusted input is held to hard limits: labels of 63 bytes, names of 255, messages
of 65535; a compression pointer must point before the previous one, so pointer
loops cannot happen; every count and RDLENGTH is checked against the data. All
malformed input raises L{DNSParseError} (a ValueError); Twisted raises assorted
errors there. Tests: tests/names/.
"""

from __future__ import annotations

import struct
from typing import Protocol

from torsion.names._dnsrecords import (
    MAX_MESSAGE,
    RECORD_TYPES,
    Compression,
    DNSParseError,
    Name,
    Record_A,
    Record_AAAA,
    Record_CAA,
    Record_CNAME,
    Record_DNAME,
    Record_MX,
    Record_NAPTR,
    Record_NS,
    Record_PTR,
    Record_SOA,
    Record_SRV,
    Record_SSHFP,
    Record_TXT,
    UnknownRecord,
    _Record,
    readName,
    writeName,
)

__all__ = [
    "AAAA",
    "ALL_RECORDS",
    "ANY",
    "AXFR",
    "CAA",
    "CH",
    "CNAME",
    "CS",
    "DNAME",
    "EFORMAT",
    "ENAME",
    "ENOTIMP",
    "EREFUSED",
    "ESERVER",
    "HS",
    "IN",
    "MX",
    "NAPTR",
    "NS",
    "OK",
    "OPT",
    "OP_INVERSE",
    "OP_NOTIFY",
    "OP_QUERY",
    "OP_STATUS",
    "OP_UPDATE",
    "PTR",
    "SOA",
    "SRV",
    "SSHFP",
    "TXT",
    "A",
    "DNSParseError",
    "Message",
    "Name",
    "OPTHeader",
    "Query",
    "RRHeader",
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
    "_OPTHeader",
    "_OPTVariableOption",
]

A, NS, CNAME, SOA, PTR, MX, TXT, AAAA = 1, 2, 5, 6, 12, 15, 16, 28
SRV, NAPTR, DNAME, OPT, SSHFP, CAA = 33, 35, 39, 41, 44, 257
AXFR, ALL_RECORDS = 252, 255
IN, CS, CH, HS, ANY = 1, 2, 3, 4, 255
OK, EFORMAT, ESERVER, ENAME, ENOTIMP, EREFUSED = 0, 1, 2, 3, 4, 5
OP_QUERY, OP_INVERSE, OP_STATUS, OP_NOTIFY, OP_UPDATE = 0, 1, 2, 4, 5


def _u16(msg: bytes, off: int) -> int:
    if off + 2 > len(msg):
        raise DNSParseError("a DNS message is truncated")
    return (msg[off] << 8) | msg[off + 1]


class Query:
    """A question: a name, a type and a class."""

    __slots__ = ("cls", "name", "type")

    def __init__(self, name: bytes | str | Name = b"", type: int = A, cls: int = IN) -> None:
        self.name = Name(name)
        self.type = type
        self.cls = cls

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Query):
            return (self.name, self.type, self.cls) == (other.name, other.type, other.cls)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.name, self.type, self.cls))

    def __repr__(self) -> str:
        return f"<Query {self.name} type={self.type} class={self.cls}>"


class RRHeader:
    """A resource record: owner name, type, class, TTL and its payload (a Record_*)."""

    __slots__ = ("auth", "cls", "name", "payload", "ttl", "type")

    def __init__(
        self,
        name: bytes | str | Name = b"",
        type: int = A,
        cls: int = IN,
        ttl: int = 0,
        payload: _Record | None = None,
        auth: bool = False,
    ) -> None:
        if not 0 <= ttl < 2**32:
            raise ValueError(f"a DNS TTL is 0..2**32-1, not {ttl}")
        self.name = Name(name)
        self.type = type
        self.cls = cls
        self.ttl = ttl
        self.payload = payload
        self.auth = auth

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RRHeader):
            return (self.name, self.type, self.cls, self.ttl, self.payload) == (
                other.name,
                other.type,
                other.cls,
                other.ttl,
                other.payload,
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.name, self.type, self.cls, self.ttl))

    def __repr__(self) -> str:
        return (
            f"<RR name={self.name} type={self.type} class={self.cls}"
            f" ttl={self.ttl} {self.payload!r}>"
        )


class _OPTVariableOption:
    """One EDNS0 option (RFC 6891 section 6.1.2): a code and opaque data."""

    __slots__ = ("code", "data")

    def __init__(self, code: int = 0, data: bytes = b"") -> None:
        self.code = code
        self.data = data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _OPTVariableOption):
            return (self.code, self.data) == (other.code, other.data)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.code, self.data))

    def __repr__(self) -> str:
        return f"<OPTOption code={self.code} data={self.data!r}>"


class OPTHeader:
    """
    The EDNS0 OPT pseudo-record. It lives in L{Message.additional} as itself
    (Twisted's plain Message leaves it an RRHeader; only its _EDNSMessage unpacks
    it), because its class and TTL fields mean something else than a record's.
    """

    __slots__ = ("dnssecOK", "extendedRCODE", "options", "udpPayloadSize", "version")

    def __init__(
        self,
        udpPayloadSize: int = 4096,
        extendedRCODE: int = 0,
        version: int = 0,
        dnssecOK: bool = False,
        options: list[_OPTVariableOption] | None = None,
    ) -> None:
        self.udpPayloadSize = udpPayloadSize
        self.extendedRCODE = extendedRCODE
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = list(options or [])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, OPTHeader):
            return self._key() == other._key()
        return NotImplemented

    def _key(self) -> tuple[object, ...]:
        return (
            self.udpPayloadSize,
            self.extendedRCODE,
            self.version,
            bool(self.dnssecOK),
            self.options,
        )

    def __hash__(self) -> int:
        return hash(repr(self._key()))

    def __repr__(self) -> str:
        return (
            f"<OPTHeader udpPayloadSize={self.udpPayloadSize} version={self.version}"
            f" dnssecOK={self.dnssecOK} options={self.options!r}>"
        )


_OPTHeader = OPTHeader
Section = list[RRHeader | OPTHeader]


class Message:
    """A DNS message: the header flags and four sections."""

    def __init__(
        self,
        id: int = 0,
        answer: int = 0,
        opCode: int = OP_QUERY,
        recDes: int = 0,
        recAv: int = 0,
        auth: int = 0,
        rCode: int = OK,
        trunc: int = 0,
        maxSize: int = 512,
        authenticData: int = 0,
        checkingDisabled: int = 0,
    ) -> None:
        self.id = id
        self.answer = answer
        self.opCode = opCode
        self.recDes = recDes
        self.recAv = recAv
        self.auth = auth
        self.rCode = rCode
        self.trunc = trunc
        self.maxSize = maxSize
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.queries: list[Query] = []
        self.answers: Section = []
        self.authority: Section = []
        self.additional: Section = []

    def addQuery(self, name: bytes | str, type: int = ALL_RECORDS, cls: int = IN) -> None:
        self.queries.append(Query(name, type, cls))

    def lookupRecordType(self, type: int) -> type[_Record]:
        """The Record_* class that decodes C{type}; UnknownRecord for the rest."""
        return RECORD_TYPES.get(type, UnknownRecord)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return self._key() == other._key()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _key(self) -> tuple[object, ...]:
        return (
            self.id,
            bool(self.answer),
            self.opCode,
            bool(self.recDes),
            bool(self.recAv),
            bool(self.auth),
            self.rCode,
            bool(self.trunc),
            bool(self.authenticData),
            bool(self.checkingDisabled),
            self.queries,
            self.answers,
            self.authority,
            self.additional,
        )

    def __repr__(self) -> str:
        return (
            f"<Message id={self.id} rCode={self.rCode} queries={self.queries!r}"
            f" answers={self.answers!r} authority={self.authority!r}"
            f" additional={self.additional!r}>"
        )

    def toStr(self) -> bytes:
        """Encode, compressing every name that RFC 3597 lets us compress."""
        flags = (
            (bool(self.answer) << 15)
            | ((self.opCode & 0xF) << 11)
            | (bool(self.auth) << 10)
            | (bool(self.trunc) << 9)
            | (bool(self.recDes) << 8)
            | (bool(self.recAv) << 7)
            | (bool(self.authenticData) << 5)
            | (bool(self.checkingDisabled) << 4)
            | (self.rCode & 0xF)
        )
        out = bytearray(
            _HEADER.pack(
                self.id,
                flags,
                len(self.queries),
                len(self.answers),
                len(self.authority),
                len(self.additional),
            )
        )
        comp: Compression = {}
        for q in self.queries:
            writeName(out, q.name.name, comp)
            out += _QUESTION_FIXED.pack(q.type, q.cls)
        for section in (self.answers, self.authority, self.additional):
            for rr in section:
                _writeRR(out, rr, comp)
        if len(out) > MAX_MESSAGE:
            raise ValueError(f"the DNS message is {len(out)} bytes, over {MAX_MESSAGE}; split it")
        return bytes(out)

    def fromStr(self, data: bytes) -> None:
        """Replace this message's contents with those decoded from C{data}."""
        msg = bytes(data)
        if len(msg) > MAX_MESSAGE:
            raise DNSParseError(f"a DNS message is at most {MAX_MESSAGE} bytes")
        if len(msg) < 12:
            raise DNSParseError("a DNS message is shorter than its 12-byte header")
        self.id = _u16(msg, 0)
        flags = _u16(msg, 2)
        self.answer = (flags >> 15) & 1
        self.opCode = (flags >> 11) & 0xF
        self.auth = (flags >> 10) & 1
        self.trunc = (flags >> 9) & 1
        self.recDes = (flags >> 8) & 1
        self.recAv = (flags >> 7) & 1
        self.authenticData = (flags >> 5) & 1
        self.checkingDisabled = (flags >> 4) & 1
        self.rCode = flags & 0xF
        counts = [_u16(msg, i) for i in (4, 6, 8, 10)]
        # A question takes at least 5 bytes and a record 11: refuse lying counts
        # before allocating anything for them.
        if 12 + counts[0] * 5 + sum(counts[1:]) * 11 > len(msg):
            raise DNSParseError("a DNS message's counts claim more entries than it holds")
        off = 12
        queries: list[Query] = []
        for _ in range(counts[0]):
            raw, off = readName(msg, off)
            q = Query.__new__(Query)
            q.name = _name(raw)
            q.type, q.cls = _u16(msg, off), _u16(msg, off + 2)
            off += 4
            queries.append(q)
        sections: list[Section] = []
        for count in counts[1:]:
            section: Section = []
            for _ in range(count):
                rr, off = _readRR(msg, off)
                section.append(rr)
            sections.append(section)
        self.queries = queries
        self.answers, self.authority, self.additional = sections

    def encode(self, strio: _Writable) -> None:
        """Twisted's stream form of L{toStr}."""
        strio.write(self.toStr())

    def decode(self, strio: _Readable, length: int | None = None) -> None:
        """Twisted's stream form of L{fromStr}; reads C{length} bytes or to the end."""
        self.fromStr(strio.read(MAX_MESSAGE + 1 if length is None else length))


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def _name(raw: bytes) -> Name:
    name = Name.__new__(Name)
    name.name = raw
    return name


_HEADER = struct.Struct("!6H")  # ID, flags, the four section counts
_QUESTION_FIXED = struct.Struct("!HH")  # type, class
_RR_FIXED = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH (filled in after)


def _writeRR(out: bytearray, rr: RRHeader | OPTHeader, comp: Compression) -> None:
    if isinstance(rr, OPTHeader):
        out.append(0)
        ttl = (
            ((rr.extendedRCODE & 0xFF) << 24)
            | ((rr.version & 0xFF) << 16)
            | (bool(rr.dnssecOK) << 15)
        )
        out += OPT.to_bytes(2, "big") + rr.udpPayloadSize.to_bytes(2, "big")
        out += ttl.to_bytes(4, "big")
        body = b"".join(
            o.code.to_bytes(2, "big") + len(o.data).to_bytes(2, "big") + o.data for o in rr.options
        )
        out += len(body).to_bytes(2, "big") + body
        return
    writeName(out, rr.name.name, comp)
    out += _RR_FIXED.pack(rr.type, rr.cls, rr.ttl, 0)
    lengthAt = len(out) - 2
    if rr.payload is not None:
        rr.payload.encodeInto(out, comp)
    rdlength = len(out) - lengthAt - 2
    if rdlength > 0xFFFF:
        raise ValueError("a DNS record's data is over 65535 bytes")
    out[lengthAt : lengthAt + 2] = rdlength.to_bytes(2, "big")


def _readRR(msg: bytes, off: int) -> tuple[RRHeader | OPTHeader, int]:
    raw, off = readName(msg, off)
    if off + 10 > len(msg):
        raise DNSParseError("a DNS record header is truncated")
    rtype, cls = _u16(msg, off), _u16(msg, off + 2)
    ttl = int.from_bytes(msg[off + 4 : off + 8], "big")
    rdlength = _u16(msg, off + 8)
    off += 10
    end = off + rdlength
    if end > len(msg):
        raise DNSParseError("a DNS record's RDLENGTH runs past the end of the message")
    if rtype == OPT:
        if raw:
            raise DNSParseError("an EDNS0 OPT record must be owned by the root name")
        options = []
        while off < end:
            if off + 4 > end:
                raise DNSParseError("an EDNS0 option header is truncated")
            code, size = _u16(msg, off), _u16(msg, off + 2)
            if off + 4 + size > end:
                raise DNSParseError("an EDNS0 option runs past its record")
            options.append(_OPTVariableOption(code, msg[off + 4 : off + 4 + size]))
            off += 4 + size
        return OPTHeader(cls, ttl >> 24, (ttl >> 16) & 0xFF, bool(ttl & 0x8000), options), end
    kind = RECORD_TYPES.get(rtype, UnknownRecord)
    payload = kind.decodeFrom(msg, off, end)
    payload.ttl = ttl
    rr = RRHeader.__new__(RRHeader)
    rr.name, rr.type, rr.cls, rr.ttl = _name(raw), rtype, cls, ttl
    rr.payload, rr.auth = payload, False
    return rr, end


from torsion.names._dnsprotocol import DNSDatagramProtocol, DNSProtocol  # noqa: E402

__all__ += ["DNSDatagramProtocol", "DNSProtocol"]
