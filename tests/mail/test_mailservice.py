"""Tests for torsion.mail.mail (MailService, domains), the maildir domains of
torsion.mail.maildir and the SMTP deliveries of torsion.mail.protocols, in memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.internet.reactormixins import closeReactor
from tests.internet.reactormixins import runUntilFired as _runUntilFired
from tests.mail._storehelpers import FAST_HASHER, makeService, user
from torsion.cred.credentials import UsernamePassword
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import defer
from torsion.internet.selectreactor import SelectReactor
from torsion.logger import formatEvent
from torsion.mail import pop3, smtp
from torsion.mail.mail import BounceDomain, DomainWithDefaultDict, FileMessage, MailService
from torsion.mail.maildir import MaildirDirdbmDomain, MaildirMailbox
from torsion.mail.protocols import ESMTPDomainDelivery, POP3Factory


@pytest.fixture
def poolReactor() -> Iterator[Any]:
    made = SelectReactor()
    made.getThreadPool().start()
    try:
        yield made
    finally:
        closeReactor(made)


def runUntilFired(reactor: Any, d: Any) -> Any:
    # An unknown user is checked against a dummy argon2id hash, as slow as a real one:
    # on a busy machine that takes seconds.
    return _runUntilFired(reactor, d, timeout=60)


def deliver(delivery: Any, to: str, lines: list[bytes]) -> Any:
    d = defer.maybeDeferred(delivery.validateTo, user(to))
    results: list[Any] = []
    d.addBoth(results.append)
    (made,) = results
    if not callable(made):
        made.raiseException()
    message = made()
    for line in lines:
        message.lineReceived(line)
    out: list[Any] = []
    message.eomReceived().addBoth(out.append)
    return out[0]


def test_domainsAreCaseInsensitiveWithADefault() -> None:
    default = BounceDomain()
    domains = DomainWithDefaultDict({"Example.COM": 1}, default)
    assert domains[b"example.com"] == 1
    assert domains["EXAMPLE.com."] == 1
    assert domains[b"other.example"] is default
    assert b"example.com" in domains and b"other.example" not in domains
    assert domains.get(b"other.example") is None
    domains["new.example"] = 2
    assert sorted(domains) == [b"example.com", b"new.example"]


def test_addUserHashesAndMakesTheMaildir(tmp_path: Path) -> None:
    _service, store = makeService(tmp_path, {"Alice": "secret"})
    line = (tmp_path / "example.com" / "passwd").read_text()
    assert line.startswith("alice:$scrypt$") and "secret" not in line
    assert ((tmp_path / "example.com" / "passwd").stat().st_mode & 0o777) == 0o600
    assert (tmp_path / "example.com" / "alice" / "new").is_dir()
    assert store.userDirectory(b"ALICE") == str(tmp_path / "example.com" / "alice")
    assert store.userDirectory(b"bob") is None


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "passwd", "x:y", "a b", "a@b", "é" * 65])
def test_badUserNamesAreRefused(tmp_path: Path, name: str) -> None:
    _, store = makeService(tmp_path)
    with pytest.raises(ValueError, match="cannot be a user name"):
        store.addUser(name, "pw")


def test_deliveryToAUserStoresTheMessage(tmp_path: Path) -> None:
    service, _store = makeService(tmp_path, {"alice": "pw"})
    delivery = ESMTPDomainDelivery(service, None)
    name = deliver(delivery, "alice@example.com", [b"Subject: hi", b"", b"caf\xc3\xa9 8-bit"])
    path = tmp_path / "example.com" / "alice" / "new" / name
    assert path.read_bytes() == b"Subject: hi\n\ncaf\xc3\xa9 8-bit\n"


def test_unknownUserAndUnknownDomainGet550(tmp_path: Path) -> None:
    service, _ = makeService(tmp_path, {"alice": "pw"})
    delivery = ESMTPDomainDelivery(service, None)
    with pytest.raises(smtp.SMTPBadRcpt) as caught:
        deliver(delivery, "nobody@example.com", [])
    assert caught.value.code == 550
    with pytest.raises(smtp.SMTPBadRcpt) as caught:
        deliver(delivery, "bob@elsewhere.example", [])
    assert caught.value.code == 550 and b"Relaying denied" in caught.value.resp


def test_authenticatedUsersStillCannotRelayWithoutAQueue(tmp_path: Path) -> None:
    service, _ = makeService(tmp_path, {"alice": "pw"})
    delivery = ESMTPDomainDelivery(service, b"alice@example.com")
    with pytest.raises(smtp.SMTPBadRcpt, match="own domains only"):
        deliver(delivery, "bob@elsewhere.example", [])


def test_postmasterWithoutADomainGoesToTheDefaultDomain(tmp_path: Path) -> None:
    service, _store = makeService(tmp_path, {"postmaster": "pw"})
    delivery = ESMTPDomainDelivery(service, None)
    assert deliver(delivery, "postmaster", [b"x"])


def test_postmasterCatchesAllWhenAsked(tmp_path: Path) -> None:
    service = MailService()
    store = MaildirDirdbmDomain(service, str(tmp_path / "d"), postmaster=True, hasher=FAST_HASHER)
    store.addUser("postmaster", "pw")
    service.addDomain("example.com", store)
    name = deliver(ESMTPDomainDelivery(service, None), "anyone@example.com", [b"x"])
    assert (tmp_path / "d" / "postmaster" / "new" / name).exists()


def test_validateFrom(tmp_path: Path) -> None:
    service, _ = makeService(tmp_path)
    delivery = ESMTPDomainDelivery(service, None)
    origin = smtp.Address("a@b.example")
    assert delivery.validateFrom((b"h", b"1.2.3.4"), origin) is origin
    with pytest.raises(smtp.SMTPBadSender) as caught:
        delivery.validateFrom(None, origin)
    assert caught.value.code == 503
    with pytest.raises(smtp.SMTPBadSender) as caught:
        delivery.validateFrom((b"h", b"1.2.3.4"), smtp.Address("nodomain"))
    assert caught.value.code == 501
    assert delivery.validateFrom((b"h", b"1"), smtp.Address("<>")).local == b""


def test_receivedHeader(tmp_path: Path) -> None:
    service, _ = makeService(tmp_path)
    delivery = ESMTPDomainDelivery(service, None, host="mx.example.com")
    header = delivery.receivedHeader(
        (b"client.example", b"127.0.0.1"), smtp.Address("a@b.example"), [user("x@example.com")]
    )
    assert header.startswith(b"Received: from client.example ([127.0.0.1])\r\n\tby mx.example.com")
    assert b"with ESMTP id " in header and b"for <x@example.com>;" in header


def test_abandonedMessageLeavesNothing(tmp_path: Path) -> None:
    service, _ = makeService(tmp_path, {"alice": "pw"})
    made = ESMTPDomainDelivery(service, None).validateTo(user("alice@example.com"))
    results: list[Any] = []
    made.addCallback(results.append)
    message = results[0]()
    message.lineReceived(b"partial")
    message.connectionLost()
    box = tmp_path / "example.com" / "alice"
    assert os.listdir(box / "tmp") == [] and os.listdir(box / "new") == []


def test_bigMessageIsWrittenInPieces(tmp_path: Path) -> None:
    service, _ = makeService(tmp_path, {"alice": "pw"})
    lines = [b"x" * 999] * 300
    name = deliver(ESMTPDomainDelivery(service, None), "alice@example.com", lines)
    data = (tmp_path / "example.com" / "alice" / "new" / name).read_bytes()
    assert data == b"".join(line + b"\n" for line in lines)


def test_fileMessage(tmp_path: Path) -> None:
    tmp, final = tmp_path / "t", tmp_path / "f"
    message = FileMessage(open(tmp, "wb"), str(tmp), str(final))  # noqa: SIM115
    message.lineReceived(b"one")
    names: list[Any] = []
    message.eomReceived().addCallback(names.append)
    assert names == [str(final)] and final.read_bytes() == b"one\n" and not tmp.exists()
    other = FileMessage(open(tmp, "wb"), str(tmp), str(final) + "2")  # noqa: SIM115
    other.connectionLost()
    assert not tmp.exists()


# -- logins ------------------------------------------------------------------------------


def test_loginPicksTheDomain(tmp_path: Path, poolReactor: Any) -> None:
    service, _ = makeService(tmp_path, {"alice": "secret"}, reactor=poolReactor)
    other = MaildirDirdbmDomain(
        service, str(tmp_path / "o"), hasher=FAST_HASHER, reactor=poolReactor
    )
    other.addUser("alice", "other")
    service.addDomain("other.example", other)
    for name, password in [
        ("alice", "secret"),
        ("alice@example.com", "secret"),
        ("alice@OTHER.example", "other"),
    ]:
        iface, mbox, _logout = runUntilFired(
            poolReactor, service.login(UsernamePassword(name, password), None, pop3.IMailbox)
        )
        assert iface is pop3.IMailbox and isinstance(mbox, MaildirMailbox)
    _, mbox, _ = runUntilFired(
        poolReactor,
        service.login(UsernamePassword("alice@other.example", "other"), None, pop3.IMailbox),
    )
    assert mbox.path == str(tmp_path / "o" / "alice")
    for name, password in [("alice", "other"), ("alice@nowhere.example", "secret"), ("bob", "x")]:
        with pytest.raises(UnauthorizedLogin):
            runUntilFired(
                poolReactor, service.login(UsernamePassword(name, password), None, pop3.IMailbox)
            )


def test_smtpAuthThroughTheDomains(tmp_path: Path, poolReactor: Any, logged: list[Any]) -> None:
    service, _ = makeService(tmp_path, {"alice": "secret"}, reactor=poolReactor)
    portal = service.smtpPortal
    _iface, delivery, _ = runUntilFired(
        poolReactor, portal.login(UsernamePassword("alice", "secret"), None, smtp.IMessageDelivery)
    )
    assert isinstance(delivery, ESMTPDomainDelivery) and delivery.user == b"alice@example.com"
    with pytest.raises(UnauthorizedLogin):
        runUntilFired(
            poolReactor,
            portal.login(UsernamePassword("alice", "hunter2"), None, smtp.IMessageDelivery),
        )
    texts = [formatEvent(e) for e in logged]
    assert any("alice" in t for t in texts) and not any("hunter2" in t for t in texts)
    from torsion.cred.credentials import Anonymous

    _, anonymous, _ = runUntilFired(
        poolReactor, portal.login(Anonymous(), None, smtp.IMessageDelivery)
    )
    assert anonymous.user is None


def test_extraSMTPCheckers(tmp_path: Path, poolReactor: Any) -> None:
    from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse

    service, _ = makeService(tmp_path, {"alice": "secret"}, reactor=poolReactor)
    service.addSMTPChecker(InMemoryUsernamePasswordDatabaseDontUse(relay="pw"))
    _, delivery, _ = runUntilFired(
        poolReactor,
        service.smtpPortal.login(UsernamePassword("relay", "pw"), None, smtp.IMessageDelivery),
    )
    assert delivery.user == b"relay"


def test_pop3FactoryUsesTheService(tmp_path: Path) -> None:
    service, _ = makeService(tmp_path)
    factory = service.getPOP3Factory()
    assert isinstance(factory, POP3Factory)
    proto = factory.buildProtocol(None)
    assert proto.portal is service and proto.factory is factory
    assert service.getESMTPFactory().buildProtocol(None).service is service


def test_setDefaultDomain(tmp_path: Path) -> None:
    service, _ = makeService(tmp_path)
    with pytest.raises(KeyError, match="not a domain"):
        service.setDefaultDomain("nope.example")
    service.addDomain("b.example", BounceDomain())
    service.setDefaultDomain("B.example")
    assert service.splitUser(b"x") == (b"x", b"b.example")


def test_fileMonitoringServiceCallsBackOnChange(tmp_path: Path) -> None:
    from torsion.internet.task import Clock
    from torsion.mail.mail import FileMonitoringService

    clock = Clock()
    watched = tmp_path / "aliases"
    watched.write_text("a: b\n")
    calls: list[str] = []
    monitor = FileMonitoringService(clock)
    monitor.monitorFile(str(watched), calls.append, interval=5)
    monitor.startService()
    clock.advance(5)
    assert calls == []
    watched.write_text("a: b, c\n")
    clock.advance(5)
    assert calls == [str(watched)]
    clock.advance(5)
    assert calls == [str(watched)]
    monitor.unmonitorFile(str(watched))
    watched.write_text("changed again\n")
    clock.advance(10)
    assert len(calls) == 1
    monitor.monitorFile(str(watched), calls.append, interval=1)
    monitor.stopService()
    watched.write_text("and again, but stopped\n")
    clock.advance(10)
    assert len(calls) == 1 and not clock.getDelayedCalls()
