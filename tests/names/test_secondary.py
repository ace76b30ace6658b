"""SecondaryAuthority and its service: transfers, SOA-serial refresh, retry and expiry.

The primary here is a fake resolver and time a task.Clock; the run of two torsiond
processes, one the secondary of the other, is test_secondaryTorsiondFollowsItsPrimary.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.tap._torsiond import freePort, runTorsiond
from torsion.internet import defer, task
from torsion.names import dns, secondary
from torsion.names.error import DNSQueryTimeoutError, DomainError


def soa(serial: int, refresh: int = 100, retry: int = 10, expire: int = 1000) -> dns.RRHeader:
    record = dns.Record_SOA(
        b"ns1.example.com", b"h.example.com", serial, refresh, retry, expire, 60
    )
    return dns.RRHeader(b"example.com", dns.SOA, ttl=300, payload=record)


def a(name: bytes, address: str) -> dns.RRHeader:
    return dns.RRHeader(name, dns.A, ttl=120, payload=dns.Record_A(address))


class Primary:
    """A fake client.Resolver for the primary: a zone, a serial, or failures."""

    def __init__(self) -> None:
        self.serial = 1
        self.hosts: dict[bytes, str] = {b"www.example.com": "192.0.2.1"}
        self.down = False
        self.transfers = 0
        self.checks = 0
        self.zone: list[dns.RRHeader] | None = None

    def lookupZone(self, name: bytes, timeout: Any = None) -> defer.Deferred[Any]:
        self.transfers += 1
        if self.down:
            return defer.fail(DNSQueryTimeoutError(name))
        records = self.zone
        if records is None:
            records = [soa(self.serial)] + [a(n, ip) for n, ip in self.hosts.items()]
            records.append(soa(self.serial))
        return defer.succeed((records, [], []))

    def lookupAuthority(self, name: bytes, timeout: Any = None) -> defer.Deferred[Any]:
        self.checks += 1
        if self.down:
            return defer.fail(DNSQueryTimeoutError(name))
        return defer.succeed(([soa(self.serial)], [], []))


def made(clock: task.Clock, primary: Primary) -> secondary.SecondaryAuthority:
    authority = secondary.SecondaryAuthority.fromServerAddressAndDomain(
        ("127.0.0.1", 5300), "example.com", reactor=clock
    )
    authority._resolver = primary
    return authority


def lookup(authority: secondary.SecondaryAuthority, name: bytes) -> Any:
    results: list[Any] = []
    authority._lookup(name, dns.IN, dns.A, None).addBoth(results.append)
    return results[0]


def address(authority: secondary.SecondaryAuthority, name: bytes) -> str:
    answers, _, _ = lookup(authority, name)
    return str(answers[0].payload.dottedQuad())


def test_serialArithmetic() -> None:
    assert secondary.serialGreater(2, 1)
    assert not secondary.serialGreater(1, 1)
    assert not secondary.serialGreater(1, 2)
    assert secondary.serialGreater(0, 2**32 - 1)  # wrapped around
    assert not secondary.serialGreater(2**31 + 5, 5)


def test_beforeTheFirstTransferNothingIsKnown() -> None:
    authority = made(task.Clock(), Primary())
    failure = lookup(authority, b"www.example.com")
    assert type(failure.value) is DomainError


def test_transferTakesTheZone() -> None:
    primary = Primary()
    authority = made(task.Clock(), primary)
    results: list[Any] = []
    authority.transfer().addCallback(results.append)
    assert results == [True]
    assert address(authority, b"www.example.com") == "192.0.2.1"
    assert authority.soa is not None and authority.soa[1].serial == 1
    answers, _, _ = lookup(authority, b"www.example.com")
    assert answers[0].ttl == 120 and answers[0].auth
    # The closing SOA is not a second record.
    assert len(authority.records[b"example.com"]) == 1


@pytest.mark.parametrize(
    "zone",
    [
        [],
        [a(b"www.example.com", "192.0.2.1")],
        [soa(2), a(b"www.example.org", "192.0.2.1"), soa(2)],
        [dns.RRHeader(b"other.org", dns.SOA, payload=soa(2).payload)],
    ],
)
def test_aBadTransferKeepsWhatWeHad(zone: list[dns.RRHeader]) -> None:
    primary = Primary()
    authority = made(task.Clock(), primary)
    authority.transfer()
    primary.zone = zone
    results: list[Any] = []
    authority.transfer().addCallback(results.append)
    assert results == [False]
    assert address(authority, b"www.example.com") == "192.0.2.1"


def test_refreshTransfersOnlyWhenTheSerialGrows() -> None:
    primary = Primary()
    authority = made(task.Clock(), primary)
    authority.refresh()
    assert primary.transfers == 1
    primary.hosts[b"www.example.com"] = "192.0.2.2"
    authority.refresh()
    assert (primary.checks, primary.transfers) == (1, 1)
    assert address(authority, b"www.example.com") == "192.0.2.1"
    primary.serial = 2
    authority.refresh()
    assert primary.transfers == 2
    assert address(authority, b"www.example.com") == "192.0.2.2"


def test_scheduleFollowsRefreshRetryAndExpire() -> None:
    clock = task.Clock()
    primary = Primary()
    authority = made(clock, primary)
    authority.startRefreshing()
    assert primary.transfers == 1
    clock.advance(99)
    assert primary.checks == 0
    clock.advance(1)
    assert primary.checks == 1
    primary.down = True
    clock.advance(100)
    assert primary.checks == 2
    clock.advance(10)  # retry
    assert primary.checks == 3
    assert address(authority, b"www.example.com") == "192.0.2.1"
    clock.advance(1000)
    # Over expire without reaching the primary: the copy is dropped.
    assert type(lookup(authority, b"www.example.com").value) is DomainError
    primary.down = False
    clock.advance(authority.initialRetry)
    assert address(authority, b"www.example.com") == "192.0.2.1"
    authority.stopRefreshing()
    assert clock.getDelayedCalls() == []


def test_withoutACopyTheFirstTransferIsRetried() -> None:
    clock = task.Clock()
    primary = Primary()
    primary.down = True
    authority = made(clock, primary)
    authority.startRefreshing()
    primary.down = False
    clock.advance(authority.initialRetry)
    assert primary.transfers == 2
    assert address(authority, b"www.example.com") == "192.0.2.1"
    authority.stopRefreshing()


def test_serviceStartsAndStopsEveryDomain() -> None:
    clock = task.Clock()
    made = secondary.SecondaryAuthorityService.fromServerAddressAndDomains(
        ("127.0.0.1", 5300), ["example.com", "example.net"], reactor=clock
    )
    primaries = []
    for authority in made.domains:
        primaries.append(Primary())
        authority._resolver = primaries[-1]
    made.startService()
    assert [p.transfers for p in primaries] == [1, 1]
    chain = made.getAuthority()
    assert chain.resolvers == made.domains
    made.stopService()
    assert clock.getDelayedCalls() == []


def test_theSecondaryIsServedAndTransferredOnward() -> None:
    from torsion.names import server

    primary = Primary()
    authority = made(task.Clock(), primary)
    authority.transfer()
    factory = server.DNSServerFactory([authority])
    assert factory._transferAuthority(dns.Name(b"example.com")) is authority
    results: list[Any] = []
    authority.lookupZone(b"example.com").addCallback(results.append)
    records = results[0][0]
    assert [rr.type for rr in records] == [dns.SOA, dns.A, dns.SOA]


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed (bind9-dnsutils)")
def test_secondaryTorsiondFollowsItsPrimary(tmp_path: Path) -> None:
    zone = tmp_path / "example.com.zone"

    def write(serial: int, address: str) -> None:
        zone.write_text(
            f"$TTL 60\n@ SOA ns1 root {serial} 1 1 600 1\n@ NS ns1\nns1 A 192.0.2.1\n"
            f"www A {address}\n"
        )

    def ask(port: int) -> str:
        return subprocess.run(
            ["dig", "@127.0.0.1", "-p", str(port), "+short", "+time=2", "www.example.com"],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()  # fmt: skip

    def waitFor(port: int, expected: str) -> None:
        deadline = time.monotonic() + 15
        while ask(port) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ask(port) == expected

    write(1, "192.0.2.10")
    primaryPort, secondaryPort = freePort(), freePort()
    primaryArgs = ["dns", "--bindzone", str(zone), "--port", str(primaryPort)]
    secondaryArgs = ["dns", "--secondary", f"127.0.0.1:{primaryPort}/example.com"]
    with contextlib.ExitStack() as stack:
        primary = stack.enter_context(runTorsiond(primaryArgs, primaryPort, tmp_path))
        stack.enter_context(
            runTorsiond([*secondaryArgs, "--port", str(secondaryPort)], secondaryPort, tmp_path)
        )
        waitFor(secondaryPort, "192.0.2.10")
        # The primary comes back with a newer serial: the secondary's next refresh
        # (the SOA says every second) sees it and transfers the zone again.
        primary.terminate()
        primary.wait(timeout=10)
        write(2, "192.0.2.20")
        stack.enter_context(runTorsiond(primaryArgs, primaryPort, tmp_path))
        waitFor(secondaryPort, "192.0.2.20")


def test_withoutAPrimaryTransferSaysSo() -> None:
    authority = secondary.SecondaryAuthority(None, "example.com", reactor=task.Clock())
    results: list[Any] = []
    authority.transfer().addCallback(results.append)
    assert results == [False]
