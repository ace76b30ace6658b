"""
torsion.names.authority: authoritative zones for torsion.names.server, under
Twisted's names. FileAuthority holds one zone (C{soa}, C{records}) and answers
from it as RFC 1034 4.3.2 says: NXDOMAIN or NODATA with the SOA in the authority
section (RFC 2308), CNAMEs chased inside the zone, wildcards (RFC 4592),
referrals with glue below delegations, and the AA bit on everything it owns.
PySourceAuthority loads a zone written in Python, BindAuthority one written in
the BIND master-file format (torsion.names._bindzone).

Tests: tests/names/test_authority.py, test_authority_bind.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from torsion.internet.defer import Deferred, fail, succeed
from torsion.names import common, dns
from torsion.names._bindzone import MAX_ZONE_BYTES, ZoneFileError, parseTime, readZoneFile
from torsion.names._dnsrecords import _Record
from torsion.names.error import AuthoritativeDomainError, DomainError

__all__ = [
    "BindAuthority",
    "FileAuthority",
    "PySourceAuthority",
    "ZoneFileError",
    "getSerial",
]

LookupResult = common.LookupResult

# Longest CNAME chain followed inside a zone; a longer one (or a loop) ends there.
MAX_CNAME_CHAIN = 8

_ADDRESS_TYPES = (dns.A, dns.AAAA)


def getSerial(filename: str | os.PathLike[str] = "/tmp/torsion-names.serial") -> int:
    """
    A serial for a zone built by a program: today as YYYYMMDD and a two-digit
    counter kept in C{filename}, so serials grow with every call (Twisted's helper,
    the common convention). Raises OSError if C{filename} cannot be written.
    """
    import time

    today = time.strftime("%Y%m%d")
    path = Path(filename)
    counter = 0
    try:
        day, _, count = path.read_text().partition(" ")
        if day == today and count.strip().isdigit():
            counter = int(count) + 1
    except (OSError, ValueError):
        pass
    path.write_text(f"{today} {counter}\n")
    return int(today) * 100 + min(counter, 99)


def _recordType(record: _Record) -> int:
    return record.TYPE


def _target(record: _Record) -> bytes | None:
    """The host name an MX, NS or SRV points at, for the additional section."""
    if isinstance(record, (dns.Record_MX, dns.Record_NS)):
        return record.name.name.lower()
    if isinstance(record, dns.Record_SRV):
        return record.target.name.lower()
    return None


def _ancestors(name: bytes, zone: bytes) -> Iterable[bytes]:
    """C{name}'s ancestors strictly below C{zone}, nearest first."""
    while True:
        _, dot, name = name.partition(b".")
        if not dot or name == zone or not name.endswith(b"." + zone):
            return
        yield name


class FileAuthority(common.ResolverBase):
    """
    One zone, served with authority. C{soa} is (zone name, Record_SOA) and
    C{records} maps each lower-case owner name to its list of Record_* payloads,
    as in Twisted; a record whose C{ttl} is None gets the SOA's own TTL, else its
    minimum. Subclasses fill both in L{loadFile}; code that changes them later
    calls L{_index} (the secondary does).
    """

    soa: tuple[bytes, dns.Record_SOA] | None
    records: dict[bytes, list[_Record]]

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        super().__init__()
        self.soa = None
        self.records = {}
        self._indexed: tuple[object, object] | None = None
        self.loadFile(filename)
        self._index()

    def loadFile(self, filename: str | os.PathLike[str]) -> None:
        """Read the zone from C{filename} into C{soa} and C{records}."""
        raise NotImplementedError(f"{type(self).__name__} does not implement loadFile")

    def _setZone(self, entries: Iterable[tuple[bytes, _Record, str]], source: str) -> None:
        """Take (owner, record, where) entries: one SOA, and the rest inside its zone."""
        soa: tuple[bytes, dns.Record_SOA] | None = None
        records: dict[bytes, list[_Record]] = {}
        pending = []
        for owner, record, where in entries:
            key = dns.Name(owner).name.lower()
            if isinstance(record, dns.Record_SOA):
                if soa is not None:
                    raise ZoneFileError(
                        f"{where}: a second SOA record ({key.decode()!r}); a zone has one, "
                        "at its top: serve another zone from another file"
                    )
                soa = (key, record)
            pending.append((key, record, where))
        if soa is None:
            raise ZoneFileError(f"{source}: the zone has no SOA record; add one at its top")
        zone = soa[0]
        for key, record, where in pending:
            if zone and key != zone and not key.endswith(b"." + zone):
                raise ZoneFileError(
                    f"{where}: {key.decode()!r} is outside the zone {zone.decode()!r} "
                    "(a relative name meant, or a missing $ORIGIN?)"
                )
            existing = records.get(key, ())
            if existing and (
                isinstance(record, dns.Record_CNAME)
                or any(isinstance(r, dns.Record_CNAME) for r in existing)
            ):
                raise ZoneFileError(
                    f"{where}: {key.decode()!r} has a CNAME and other records; a CNAME "
                    "must be alone at its name (RFC 1034 3.6.2)"
                )
            records.setdefault(key, []).append(record)
        self.soa = soa
        self.records = records

    def _index(self) -> None:
        """Build the lookup tables from C{soa} and C{records}."""
        self._indexed = (self.soa, self.records)
        self._generation = getattr(self, "_generation", 0) + 1
        self._rrsets: dict[bytes, dict[int, list[dns.RRHeader]]] = {}
        self._names: set[bytes] = set()
        self._cuts: set[bytes] = set()
        if self.soa is None:
            self._zone = None
            return
        zone, soa = self.soa
        self._zone = zone
        default = soa.ttl if soa.ttl is not None else soa.minimum
        self._negativeTTL = min(default, soa.minimum)
        for owner, records in self.records.items():
            key = owner.lower()
            types = self._rrsets.setdefault(key, {})
            for record in records:
                ttl = default if record.ttl is None else record.ttl
                rr = dns.RRHeader(key, _recordType(record), dns.IN, ttl, record, auth=True)
                types.setdefault(rr.type, []).append(rr)
            self._names.add(key)
            self._names.update(_ancestors(key, zone))
            if dns.NS in types and key != zone:
                self._cuts.add(key)
        soaTypes = self._rrsets.setdefault(zone, {})
        if dns.SOA not in soaTypes:
            ttl = default
            soaTypes[dns.SOA] = [dns.RRHeader(zone, dns.SOA, dns.IN, ttl, soa, auth=True)]
        self._names.add(zone)
        self._soaRR = dns.RRHeader(zone, dns.SOA, dns.IN, self._negativeTTL, soa, auth=True)

    def _fresh(self) -> None:
        if (
            self._indexed is None
            or self._indexed[0] is not self.soa
            or (self._indexed[1] is not self.records)
        ):
            self._index()

    def _inZone(self, key: bytes) -> bool:
        zone = self._zone
        return zone is not None and (key == zone or not zone or key.endswith(b"." + zone))

    def _lookup(
        self, name: bytes, cls: int, type: int, timeout: common.Timeout
    ) -> Deferred[LookupResult]:
        try:
            return succeed(self._answer(name, cls, type))
        except Exception as e:
            return fail(e)

    def _answer(self, name: bytes, cls: int, type: int) -> LookupResult:
        """The answer to a question, or the DomainError it fails with (raised)."""
        self._fresh()
        key = name.lower()
        if (cls != dns.IN and cls != dns.ANY) or not self._inZone(key):
            raise DomainError(name)
        if type == dns.AXFR:
            raise DomainError(name)
        cut = self._cutFor(key)
        if cut is not None:
            return self._referral(cut)
        answers: list[dns.RRHeader] = []
        seen = {key}
        current = key
        while True:
            types = self._rrsets.get(current)
            if types is None:
                if current in self._names:
                    break  # an empty non-terminal: NODATA
                types = self._wildcard(current)
                if types is None:
                    raise self._nameError(name, answers)
            if type == dns.ALL_RECORDS:
                for rrs in types.values():
                    answers.extend(rrs)
                return answers, [], self._additional(answers)
            found = types.get(type)
            if found:
                answers.extend(found)
                return answers, [], self._additional(found)
            cname = types.get(dns.CNAME)
            if not cname:
                break
            answers.extend(cname)
            payload = cname[0].payload
            assert isinstance(payload, dns.Record_CNAME)
            target = payload.name.name.lower()
            if (
                target in seen
                or len(seen) > MAX_CNAME_CHAIN
                or not self._inZone(target)
                or self._cutFor(target) is not None
            ):
                return answers, [], []
            seen.add(target)
            current = target
        return answers, [self._soaRR], []

    def _cutFor(self, key: bytes) -> bytes | None:
        """The delegation at or above C{key} (below the apex), if any."""
        cuts = self._cuts
        if not cuts:
            return None
        found = None
        if key in cuts:
            found = key
        for ancestor in _ancestors(key, self._zone or b""):
            if ancestor in cuts:
                found = ancestor
        return found

    def _referral(self, cut: bytes) -> LookupResult:
        authority = [
            dns.RRHeader(rr.name, rr.type, rr.cls, rr.ttl, rr.payload, auth=False)
            for rr in self._rrsets[cut][dns.NS]
        ]
        additional = [
            dns.RRHeader(rr.name, rr.type, rr.cls, rr.ttl, rr.payload, auth=False)
            for rr in self._additional(authority)
        ]
        return [], authority, additional

    def _wildcard(self, key: bytes) -> dict[int, list[dns.RRHeader]] | None:
        """The records of the wildcard that covers C{key}, owned by C{key} (RFC 4592)."""
        encloser = key
        while True:
            _, dot, encloser = encloser.partition(b".")
            if not dot and not encloser:
                return None
            if encloser in self._names or encloser == self._zone:
                break
            if not self._inZone(encloser):
                return None
        source = self._rrsets.get(b"*." + encloser if encloser else b"*")
        if source is None:
            return None
        return {
            rtype: [dns.RRHeader(key, rr.type, rr.cls, rr.ttl, rr.payload, auth=True) for rr in rrs]
            for rtype, rrs in source.items()
        }

    def _additional(self, rrs: list[dns.RRHeader]) -> list[dns.RRHeader]:
        additional: list[dns.RRHeader] = []
        for rr in rrs:
            target = _target(rr.payload) if rr.payload is not None else None
            if target is None or not self._inZone(target):
                continue
            types = self._rrsets.get(target)
            if types:
                for kind in _ADDRESS_TYPES:
                    additional.extend(types.get(kind, ()))
        return additional

    def _nameError(self, name: bytes, answers: list[dns.RRHeader]) -> AuthoritativeDomainError:
        # Like the network client's errors, the first argument is the response (its
        # CNAMEs and the SOA for negative caching); the server copies them out.
        response = dns.Message(answer=1, auth=1, rCode=dns.ENAME)
        response.answers = list(answers)
        response.authority = [self._soaRR]
        return AuthoritativeDomainError(response)

    def lookupZone(
        self, name: bytes | str, timeout: common.Timeout = None
    ) -> Deferred[LookupResult]:
        """
        The whole zone for a transfer (AXFR): the SOA, every other record, and
        the SOA again, as RFC 5936 orders them. Fails with DomainError for a name
        that is not this zone's apex.
        """
        self._fresh()
        key = common.nameBytes(name).lower()
        if self._zone is None or key != self._zone:
            return fail(DomainError(name))
        soa = self._rrsets[self._zone][dns.SOA][0]
        body = [
            rr
            for types in self._rrsets.values()
            for rrs in types.values()
            for rr in rrs
            if rr.type != dns.SOA
        ]
        return succeed(([soa, *body, soa], [], []))


class PySourceAuthority(FileAuthority):
    """
    A zone written in Python: the file is run, and its C{zone} list holds the
    records, made with functions named after the types::

        zone = [
            SOA("example.com", mname="ns1.example.com", rname="root.example.com",
                serial=2024010101, refresh="1H", retry="15M", expire="1W", minimum="5M"),
            NS("example.com", "ns1.example.com"),
            A("ns1.example.com", "192.0.2.1", ttl="1H"),
        ]

    Each function takes the owner name and then the arguments of the matching
    dns.Record_* class; TTLs and SOA times may be seconds or text like "1H".
    The file is Python: loading it runs its code with this process's rights, so
    load only files you would run yourself.
    """

    def loadFile(self, filename: str | os.PathLike[str]) -> None:
        path = os.fspath(filename)
        try:
            with open(path, "rb") as f:
                source = f.read(MAX_ZONE_BYTES + 1)
        except OSError as e:
            raise ZoneFileError(f"the zone file {path} cannot be read: {e}") from None
        if len(source) > MAX_ZONE_BYTES:
            raise ZoneFileError(f"{path} is over {MAX_ZONE_BYTES} bytes; too big for a zone file")
        namespace = self.setupConfigNamespace()
        try:
            code = compile(source, path, "exec")
            exec(code, namespace)
        except SyntaxError as e:
            raise ZoneFileError(f"{path}:{e.lineno}: {e.msg}") from None
        except Exception as e:
            raise ZoneFileError(f"{path}:{_lineOf(e, path)}: {type(e).__name__}: {e}") from None
        zone = namespace.get("zone")
        if not isinstance(zone, (list, tuple)):
            raise ZoneFileError(f"{path}: the file must set 'zone' to a list of records")
        entries = []
        for i, item in enumerate(zone):
            if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[1], _Record):
                raise ZoneFileError(
                    f"{path}: zone[{i}] is {item!r}, not a record made with A(...), MX(...), ..."
                )
            try:
                owner = dns.Name(item[0]).name
            except (ValueError, UnicodeError) as e:
                raise ZoneFileError(f"{path}: zone[{i}]: the name {item[0]!r}: {e}") from None
            entries.append((owner, item[1], f"{path}: zone[{i}]"))
        self._setZone(entries, path)

    def setupConfigNamespace(self) -> dict[str, Any]:
        """The names a Python zone file sees: one function per record type (A, MX, ...)."""
        namespace: dict[str, Any] = {}
        for attribute in dir(dns):
            if attribute.startswith("Record_"):
                namespace[attribute[len("Record_") :]] = self.wrapRecord(getattr(dns, attribute))
        return namespace

    def wrapRecord(self, type: type[_Record]) -> Callable[..., tuple[Any, _Record]]:
        """A function making (owner, C{type}(...)): what the zone list holds."""

        def make(name: Any, *args: Any, **kw: Any) -> tuple[Any, _Record]:
            if "ttl" in kw and kw["ttl"] is not None:
                kw["ttl"] = _time(kw["ttl"], "ttl")
            if type is dns.Record_SOA:
                args = tuple(_time(a, "SOA field") if i >= 3 else a for i, a in enumerate(args, 1))
                for field in ("refresh", "retry", "expire", "minimum"):
                    if field in kw:
                        kw[field] = _time(kw[field], field)
            return name, type(*args, **kw)

        make.__name__ = type.__name__[len("Record_") :]
        return make


def _time(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return parseTime(value.strip())
    raise ValueError(f"{what} is seconds or text like '1H', not {value!r}")


def _lineOf(error: BaseException, path: str) -> str:
    tb = error.__traceback__
    line = "?"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = str(tb.tb_lineno)
        tb = tb.tb_next
    return line


_ZONE_SUFFIX = re.compile(r"\.(zone|db)$", re.IGNORECASE)


class BindAuthority(FileAuthority):
    """
    A zone in the BIND master-file format (RFC 1035 section 5): $ORIGIN, $TTL,
    $INCLUDE of files in the same directory, relative names and @, parentheses,
    quoted and multi-string TXT, times with units (1h, 2d). C{origin} is the
    zone's name before any $ORIGIN; by default the file's name (Twisted's rule),
    without a .zone or .db ending. Errors are ZoneFileErrors naming file and line.
    """

    def __init__(self, filename: str | os.PathLike[str], origin: bytes | str | None = None) -> None:
        if origin is None:
            origin = _ZONE_SUFFIX.sub("", os.path.basename(os.fspath(filename)))
        self.origin = origin.encode("idna") if isinstance(origin, str) else origin
        super().__init__(filename)

    def loadFile(self, filename: str | os.PathLike[str]) -> None:
        entries = readZoneFile(filename, self.origin)
        self._setZone(((o, r, w) for o, _ttl, r, w in entries), os.fspath(filename))
