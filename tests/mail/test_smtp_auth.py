"""Tests for SMTP AUTH (PLAIN, LOGIN, CRAM-MD5) through Cred, in memory."""

from __future__ import annotations

import base64
import hmac
from typing import Any

import pytest

from tests.mail._smtphelpers import DeliveryRealm, codes, connectedServer, replies, userPortal
from torsion.mail import smtp


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def server(**attrs: Any) -> tuple[smtp.ESMTP, Any, DeliveryRealm]:
    portal, realm = userPortal(alice="wonderland")
    protocol = smtp.ESMTP()
    protocol.portal = portal
    protocol.host = b"mx.test"
    for name, value in attrs.items():
        setattr(protocol, name, value)
    _, transport, _ = connectedServer(protocol)
    protocol.dataReceived(b"EHLO client\r\n")
    transport.clear()
    return protocol, transport, realm


def test_withoutTLSOnlyCramMD5IsOffered() -> None:
    portal, _ = userPortal(alice="wonderland")
    protocol = smtp.ESMTP()
    protocol.portal = portal
    _, transport, _ = connectedServer(protocol)
    protocol.dataReceived(b"EHLO client\r\n")
    assert b"250 AUTH CRAM-MD5" in replies(transport)


def test_plaintextMechanismsCanBeAllowed() -> None:
    portal, _ = userPortal(alice="wonderland")
    protocol = smtp.ESMTP()
    protocol.portal = portal
    protocol.allowPlaintextAuth = True
    _, transport, _ = connectedServer(protocol)
    protocol.dataReceived(b"EHLO client\r\n")
    assert b"250 AUTH PLAIN LOGIN CRAM-MD5" in replies(transport)


def test_plainWithoutTLSIs538() -> None:
    protocol, transport, _ = server()
    protocol.dataReceived(b"AUTH PLAIN " + b64(b"\0alice\0wonderland") + b"\r\n")
    assert codes(transport) == [538]


def test_plainWithAnInitialResponse() -> None:
    protocol, transport, realm = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"AUTH PLAIN " + b64(b"\0alice\0wonderland") + b"\r\n")
    assert replies(transport) == [b"235 2.7.0 Authentication successful"]
    assert protocol.authenticated
    protocol.dataReceived(
        b"MAIL FROM:<alice@x.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nhi\r\n.\r\n"
    )
    assert codes(transport) == [250, 250, 354, 250]
    assert len(realm.deliveries[b"alice"].messages) == 1


def test_plainAfterAChallenge() -> None:
    protocol, transport, _ = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"AUTH PLAIN\r\n")
    assert replies(transport) == [b"334"]
    protocol.dataReceived(b64(b"alice\0alice\0wonderland") + b"\r\n")
    assert codes(transport) == [235]


def test_plainActingAsSomeoneElseIsRefused() -> None:
    protocol, transport, _ = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"AUTH PLAIN " + b64(b"bob\0alice\0wonderland") + b"\r\n")
    assert codes(transport) == [501]
    assert not protocol.authenticated


def test_login() -> None:
    protocol, transport, _ = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"AUTH LOGIN\r\n")
    assert replies(transport) == [b"334 " + b64(b"Username:")]
    protocol.dataReceived(b64(b"alice") + b"\r\n")
    assert replies(transport) == [b"334 " + b64(b"Password:")]
    protocol.dataReceived(b64(b"wonderland") + b"\r\n")
    assert codes(transport) == [235]


def test_loginWithTheUserNameInTheCommand() -> None:
    protocol, transport, _ = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"AUTH LOGIN " + b64(b"alice") + b"\r\n")
    assert replies(transport) == [b"334 " + b64(b"Password:")]
    protocol.dataReceived(b64(b"wonderland") + b"\r\n")
    assert codes(transport) == [235]


def test_cramMD5() -> None:
    protocol, transport, _ = server()
    protocol.dataReceived(b"AUTH CRAM-MD5\r\n")
    [line] = replies(transport)
    challenge = base64.b64decode(line[4:])
    assert challenge.startswith(b"<") and challenge.endswith(b"@mx.test>")
    answer = smtp.CramMD5ClientAuthenticator(b"alice").challengeResponse(b"wonderland", challenge)
    assert answer == b"alice " + hmac.new(b"wonderland", challenge, "md5").hexdigest().encode()
    protocol.dataReceived(b64(answer) + b"\r\n")
    assert codes(transport) == [235]


def test_wrongPasswordIs535AndLoggedWithoutThePassword(logged: list[dict[str, Any]]) -> None:
    protocol, transport, _ = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"AUTH PLAIN " + b64(b"\0alice\0s3cr3t-guess") + b"\r\n")
    assert replies(transport) == [b"535 5.7.8 Authentication credentials invalid"]
    assert not protocol.authenticated
    texts = [repr(event) for event in logged]
    assert any("authentication failed for user" in t and "alice" in t for t in texts)
    assert not any("s3cr3t-guess" in t for t in texts)
    protocol.dataReceived(b"MAIL FROM:<a@b.example>\r\n")
    assert codes(transport) == [530]


def test_repeatedFailuresCloseTheConnection() -> None:
    protocol, transport, _ = server(allowPlaintextAuth=True)
    for _ in range(5):
        protocol.dataReceived(b"AUTH PLAIN " + b64(b"\0alice\0nope") + b"\r\n")
    assert codes(transport) == [535, 535, 535, 535, 421]
    assert transport.disconnecting


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([b"AUTH LOGIN", b"*"], [334, 501]),
        ([b"AUTH LOGIN", b"!!!not base64"], [334, 501]),
        ([b"AUTH PLAIN =", b"NOOP"], [501, 250]),
        ([b"AUTH X-UNKNOWN"], [504]),
        ([b"AUTH"], [501]),
    ],
)
def test_badAuthExchanges(lines: list[bytes], expected: list[int]) -> None:
    protocol, transport, _ = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"".join(line + b"\r\n" for line in lines))
    assert codes(transport) == expected
    assert not protocol.authenticated


def test_authTwiceIs503() -> None:
    protocol, transport, _ = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"AUTH PLAIN " + b64(b"\0alice\0wonderland") + b"\r\n")
    protocol.dataReceived(b"AUTH PLAIN " + b64(b"\0alice\0wonderland") + b"\r\n")
    assert codes(transport) == [235, 503]


def test_authNeedsEhlo() -> None:
    portal, _ = userPortal(alice="wonderland")
    protocol = smtp.ESMTP()
    protocol.portal = portal
    _, transport, _ = connectedServer(protocol)
    protocol.dataReceived(b"HELO c\r\nAUTH CRAM-MD5\r\n")
    assert codes(transport) == [220, 250, 503]


def test_logoutWhenTheConnectionEnds() -> None:
    protocol, _transport, realm = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"AUTH PLAIN " + b64(b"\0alice\0wonderland") + b"\r\n")
    protocol.connectionLost(None)
    assert realm.logouts == [b"alice"]


def test_onlyMechanismsThePortalCanCheckAreOffered() -> None:
    from torsion.cred import hashing
    from torsion.cred.checkers import HashedPasswordChecker
    from torsion.cred.portal import Portal

    checker = HashedPasswordChecker({b"alice": hashing.ScryptHasher(logN=4).hash(b"pw")})
    protocol = smtp.ESMTP()
    protocol.portal = Portal(DeliveryRealm(), [checker])
    protocol.allowPlaintextAuth = True
    assert protocol.authMechanisms() == [b"PLAIN", b"LOGIN"]


def test_clientAuthenticators() -> None:
    assert smtp.PLAINAuthenticator("u").challengeResponse(b"p", b"") == b"\0u\0p"
    login = smtp.LOGINAuthenticator(b"u")
    assert login.challengeResponse(b"p", b"Username:") == b"u"
    assert login.challengeResponse(b"p", b"Password:") == b"p"
    assert {a.getName() for a in (login, smtp.CramMD5ClientAuthenticator(b"u"))} == {
        b"LOGIN",
        b"CRAM-MD5",
    }


def test_anOverlongAuthAnswerEndsTheExchange() -> None:
    protocol, transport, _ = server(allowPlaintextAuth=True)
    protocol.dataReceived(b"AUTH LOGIN\r\n" + b"A" * 5000 + b"\r\nNOOP\r\n")
    assert codes(transport) == [334, 500, 250]
    assert not protocol.authenticated
