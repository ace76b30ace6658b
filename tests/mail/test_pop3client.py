"""Tests for torsion.mail.pop3client's POP3Client in memory: a scripted server on a
StringTransport, and its error paths. (Against our server: test_pop3_poplib.py.)"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from torsion.internet import error
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.mail import pop3client
from torsion.python.failure import Failure


def connected(greeting: bytes = b"+OK ready\r\n", **attributes: Any) -> tuple[Any, StringTransport]:
    client = pop3client.POP3Client()
    for name, value in attributes.items():
        setattr(client, name, value)
    transport = StringTransport()
    client.makeConnection(transport)
    client.dataReceived(greeting)
    return client, transport


def result(d: Any) -> Any:
    out: list[Any] = []
    d.addBoth(out.append)
    assert out, "the Deferred has not fired"
    if isinstance(out[0], Failure):
        out[0].raiseException()
    return out[0]


def sent(transport: StringTransport) -> bytes:
    value = transport.value()
    transport.clear()
    return value


def test_commandsGoOneAtATime() -> None:
    client, transport = connected()
    first = client.noop()
    second = client.stat()
    assert sent(transport) == b"NOOP\r\n"
    client.dataReceived(b"+OK\r\n")
    assert result(first) == b""
    assert sent(transport) == b"STAT\r\n"
    client.dataReceived(b"+OK 3 120\r\n")
    assert result(second) == (3, 120)


def test_apopWhenTheGreetingOffersIt() -> None:
    client, transport = connected(b"+OK hello <1.2@host>\r\n")
    assert client.serverChallenge == b"<1.2@host>"
    d = client.login("alice", "pw")
    digest = hashlib.md5(b"<1.2@host>pw").hexdigest().encode()
    assert sent(transport) == b"APOP alice " + digest + b"\r\n"
    client.dataReceived(b"+OK welcome\r\n")
    assert result(d) == b"welcome"


def test_plaintextLoginOnlyWhenAllowed() -> None:
    client, transport = connected()
    with pytest.raises(pop3client.InsecureAuthenticationDisallowed):
        result(client.login("alice", "pw"))
    assert sent(transport) == b""
    client.allowInsecureLogin = True
    d = client.login("alice", "pw")
    assert sent(transport) == b"USER alice\r\n"
    client.dataReceived(b"+OK\r\n")
    assert sent(transport) == b"PASS pw\r\n"
    client.dataReceived(b"-ERR [AUTH] no\r\n")
    with pytest.raises(pop3client.ServerErrorResponse, match="AUTH"):
        result(d)


def test_multiLineAnswersAreUnstuffed() -> None:
    client, _ = connected()
    d = client.retrieve(0)
    client.dataReceived(b"+OK\r\nSubject: x\r\n\r\n..dot\r\nlast")
    client.dataReceived(b"\r\n.\r\n")
    assert result(d) == [b"Subject: x", b"", b".dot", b"last"]


def test_listingsAndConsumers() -> None:
    client, transport = connected()
    sizes = client.listSize()
    client.dataReceived(b"+OK\r\n1 10\r\n3 30\r\n.\r\n")
    assert result(sizes) == [10, None, 30]
    got: list[Any] = []
    uids = client.listUID(got.append)
    sent(transport)
    client.dataReceived(b"+OK\r\n1 abc\r\n2 def\r\n.\r\n")
    result(uids)
    assert got == [(0, b"abc"), (1, b"def")]
    top = client.retrieve(1, lines=2)
    assert sent(transport) == b"TOP 2 2\r\n"
    client.dataReceived(b"+OK\r\nh\r\n\r\n.\r\n")
    assert result(top) == [b"h", b""]


def test_capabilities() -> None:
    client, transport = connected()
    d = client.capabilities()
    client.dataReceived(b"+OK\r\nTOP\r\nSASL PLAIN LOGIN\r\nstls\r\n.\r\n")
    caps = result(d)
    assert caps == {b"TOP": [], b"SASL": [b"PLAIN", b"LOGIN"], b"STLS": []}
    sent(transport)
    assert result(client.capabilities()) is caps and sent(transport) == b""
    refused = client.capabilities(useCache=False)
    client.dataReceived(b"-ERR what\r\n")
    assert result(refused) == {}


def test_startTLSErrors() -> None:
    client, _ = connected()
    with pytest.raises(ValueError, match="context factory"):
        result(client.startTLS())
    started: list[Any] = []
    client.transport.startTLS = started.append  # type: ignore[attr-defined]
    d = client.startTLS("ctx")
    client.dataReceived(b"+OK\r\nTOP\r\n.\r\n")
    with pytest.raises(pop3client.TLSNotSupportedError):
        result(d)
    d = client.startTLS("ctx")  # cached capabilities, still no STLS
    with pytest.raises(pop3client.TLSNotSupportedError):
        result(d)
    client._capCache = {b"STLS": []}
    d = client.startTLS("ctx")
    client.dataReceived(b"-ERR not now\r\n")
    with pytest.raises(pop3client.TLSError, match="refused"):
        result(d)
    d = client.startTLS("ctx")
    client.dataReceived(b"+OK go\r\n")
    assert result(d) == b"go" and started == ["ctx"] and client.startedTLS
    with pytest.raises(pop3client.TLSError, match="already"):
        result(client.startTLS("ctx"))


def test_badGreeting() -> None:
    client, transport = connected(b"-ERR go away\r\n")
    with pytest.raises(pop3client.ServerErrorResponse):
        result(client.greeted)
    assert transport.disconnecting


def test_overlongLineFailsEverythingAndCloses() -> None:
    client, transport = connected()
    d = client.retrieve(0)
    client.dataReceived(b"+OK\r\n" + b"x" * 20000)
    with pytest.raises(pop3client.LineTooLong):
        result(d)
    assert transport.disconnecting


def test_lostConnectionFailsPendingCommands() -> None:
    client, _ = connected()
    first, second = client.noop(), client.quit()
    client.connectionLost(Failure(error.ConnectionLost("gone")))
    for d in (first, second, client.noop()):
        with pytest.raises(error.ConnectionLost):
            result(d)


def test_timeout() -> None:
    clock = Clock()
    client = pop3client.POP3Client()
    client.timeout = 5
    client.callLater = clock.callLater  # type: ignore[method-assign]
    transport = StringTransport()
    client.makeConnection(transport)
    client.dataReceived(b"+OK\r\n")
    d = client.noop()
    clock.advance(6)
    with pytest.raises(error.TimeoutError):
        result(d)


def test_commandsCannotCarryLineEnds() -> None:
    client, transport = connected()
    with pytest.raises(ValueError, match="CR or LF"):
        result(client.user("alice\r\nDELE 1"))
    assert sent(transport) == b""
