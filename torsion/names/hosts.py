"""
torsion.names.hosts: a resolver that answers from a hosts file (hosts(5)),
under Twisted's names (Resolver, searchFileFor, searchFileForAll). It answers A,
AAAA, ANY and the PTR names of its addresses; for anything else, and for names
the file does not have, it fails with DomainError so that a ResolverChain asks
the next resolver. The file is parsed again only when it changes. Tests:
tests/names/test_hosts.py.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from torsion.internet.defer import Deferred, fail, succeed
from torsion.names import dns
from torsion.names.common import LookupResult, ResolverBase, Timeout
from torsion.names.error import DomainError

__all__ = ["Resolver", "searchFileFor", "searchFileForAll"]

MAX_HOSTS_FILE = 16 * 1024 * 1024

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class _HostsTable:
    """A parsed hosts file: addresses by name, names by address, in file order."""

    __slots__ = ("addresses", "names")

    def __init__(self, text: bytes) -> None:
        self.addresses: dict[bytes, list[Address]] = {}
        self.names: dict[Address, bytes] = {}
        for line in text.splitlines():
            words = line.split(b"#", 1)[0].split()
            if len(words) < 2:
                continue
            try:
                address = ipaddress.ip_address(words[0].decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                continue
            for word in words[1:]:
                name = word.rstrip(b".").lower()
                try:
                    dns.Name(name)
                except ValueError:
                    continue
                known = self.addresses.setdefault(name, [])
                if address not in known:
                    known.append(address)
                self.names.setdefault(address, name)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(MAX_HOSTS_FILE)


def searchFileForAll(hostsFile: Any, name: bytes | str) -> list[str]:
    """
    Every address of C{name} in the hosts file C{hostsFile} (a path, or an
    object with Twisted's FilePath C{path}), as text, in file order; [] if the
    file cannot be read.
    """
    path = getattr(hostsFile, "path", hostsFile)
    try:
        table = _HostsTable(_read(os.fsdecode(path)))
    except OSError:
        return []
    key = name.encode("idna") if isinstance(name, str) else name
    return [str(a) for a in table.addresses.get(key.rstrip(b".").lower(), [])]


def searchFileFor(file: Any, name: bytes | str) -> str | None:
    """The first address of C{name} in the hosts file C{file}, or None."""
    found = searchFileForAll(file, name)
    return found[0] if found else None


def _reverseName(address: Address) -> bytes:
    return address.reverse_pointer.encode("ascii")


class Resolver(ResolverBase):
    """
    Answers from the hosts file C{file}; its records carry the TTL C{ttl}. The
    file is read on the first lookup and again whenever its size or time of
    modification changes.
    """

    def __init__(self, file: str | bytes = b"/etc/hosts", ttl: int = 60 * 60) -> None:
        super().__init__()
        self.file = os.fsdecode(file)
        self.ttl = ttl
        self._table: _HostsTable | None = None
        self._stamp: tuple[int, float] | None = None

    def _current(self) -> _HostsTable:
        try:
            st = os.stat(self.file)
        except OSError:
            self._table, self._stamp = None, None
            return _HostsTable(b"")
        stamp = (st.st_size, st.st_mtime)
        if self._table is None or stamp != self._stamp:
            try:
                self._table = _HostsTable(_read(self.file))
            except OSError:
                return _HostsTable(b"")
            self._stamp = stamp
        return self._table

    def _records(self, name: bytes, kinds: tuple[int, ...]) -> list[dns.RRHeader]:
        table = self._current()
        records = []
        for address in table.addresses.get(name.lower(), []):
            if address.version == 4 and dns.A in kinds:
                payload: dns.Record_A | dns.Record_AAAA = dns.Record_A(str(address), ttl=self.ttl)
                kind = dns.A
            elif address.version == 6 and dns.AAAA in kinds:
                payload, kind = dns.Record_AAAA(str(address), ttl=self.ttl), dns.AAAA
            else:
                continue
            records.append(dns.RRHeader(name, kind, dns.IN, self.ttl, payload, auth=True))
        return records

    def _pointer(self, name: bytes) -> list[dns.RRHeader]:
        table = self._current()
        for address, host in table.names.items():
            if _reverseName(address) == name.lower():
                payload = dns.Record_PTR(host, ttl=self.ttl)
                return [dns.RRHeader(name, dns.PTR, dns.IN, self.ttl, payload, auth=True)]
        return []

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Timeout) -> Deferred[LookupResult]:
        records: list[dns.RRHeader] = []
        if cls == dns.IN:
            if type == dns.A:
                records = self._records(name, (dns.A,))
            elif type == dns.AAAA:
                records = self._records(name, (dns.AAAA,))
            elif type == dns.ALL_RECORDS:
                records = self._records(name, (dns.A, dns.AAAA))
            elif type == dns.PTR:
                records = self._pointer(name)
        if records:
            return succeed((records, [], []))
        return fail(DomainError(name))
