"""SASL mechanisms and the SASL initializer (torsion.words.protocols.jabber.sasl*).

SCRAM is checked against the RFCs' own example exchanges (RFC 5802 section 5 for
SHA-1, RFC 7677 section 3 for SHA-256); the initializer over an in-memory stream.
"""

from __future__ import annotations

import base64

import pytest

from torsion.internet.testing import StringTransport
from torsion.words.protocols.jabber import jid, sasl, sasl_mechanisms, xmlstream
from torsion.words.protocols.jabber.sasl_mechanisms import SCRAM, InvalidServerResponse


def test_scramSha1MatchesRFC5802() -> None:
    scram = SCRAM("sha1", "user", "pencil", nonce="fyko+d2lbbFgONRv9qkxdawL")
    assert scram.name == "SCRAM-SHA-1"
    assert scram.getInitialResponse() == b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    final = scram.getResponse(
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    )
    assert final == (
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
    )
    scram.success(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    assert scram.verified


def test_scramSha256MatchesRFC7677() -> None:
    scram = SCRAM("sha256", "user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    assert scram.name == "SCRAM-SHA-256"
    assert scram.getInitialResponse() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    final = scram.getResponse(
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    assert final == (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    # The server's final message as a last challenge: answered with nothing.
    assert scram.getResponse(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") == b""
    scram.success(None)


def serverFirst(nonce: str = "abcXYZ", iterations: int = 4096) -> bytes:
    return f"r={nonce},s=QSXCR+Q6sek8bf92,i={iterations}".encode()


@pytest.mark.parametrize(
    ("challenge", "words"),
    [
        (serverFirst("other-nonce"), "does not extend ours"),
        (serverFirst("abc"), "does not extend ours"),
        (serverFirst(iterations=10), "iteration count 10"),
        (serverFirst(iterations=10**9), "iteration count"),
        (b"r=abcX,i=4096", "lacks"),
        (b"garbage", "malformed"),
        (b"\xff\xfe", "not UTF-8"),
        (b"m=ext,r=abcX,s=QQ==,i=4096", "extension"),
        (b"r=abcX,s=not base64!,i=4096", "lacks"),
    ],
)
def test_scramRefusesBadServerFirstMessages(challenge: bytes, words: str) -> None:
    scram = SCRAM("sha1", "user", "pencil", nonce="abc")
    scram.getInitialResponse()
    with pytest.raises(InvalidServerResponse, match=words):
        scram.getResponse(challenge)


def test_scramRefusesAWrongOrMissingServerSignature() -> None:
    scram = SCRAM("sha1", "user", "pencil", nonce="abc")
    scram.getResponse(serverFirst())
    with pytest.raises(InvalidServerResponse, match="signature is wrong"):
        scram.success(b"v=" + base64.b64encode(b"\0" * 20))
    with pytest.raises(InvalidServerResponse, match="without proving"):
        scram.success(b"")
    with pytest.raises(InvalidServerResponse, match="refused the login: other-error"):
        scram.success(b"e=other-error")
    with pytest.raises(InvalidServerResponse, match="no v="):
        scram.success(b"x=1")


def test_scramEscapesTheUserName() -> None:
    scram = SCRAM("sha1", "a=b,c", "pencil", authzid="z", nonce="n")
    assert scram.getInitialResponse() == b"n,a=z,n=a=3Db=2Cc,r=n"


def test_scramHashesAreLimited() -> None:
    with pytest.raises(ValueError, match="sha1 or sha256"):
        SCRAM("md5", "user", "pencil")


@pytest.mark.parametrize(
    ("text", "prepared"),
    [("I\u00adX", "IX"), ("user", "user"), ("USER", "USER"), ("\u00aa", "a"), ("\u2168", "IX")],
)
def test_saslprepExamplesOfRFC4013(text: str, prepared: str) -> None:
    assert sasl_mechanisms.saslprep(text) == prepared


@pytest.mark.parametrize("text", ["\u0007", "\u0627\u0031"])
def test_saslprepRefusesTheRFCsErrorExamples(text: str) -> None:
    with pytest.raises(ValueError):
        sasl_mechanisms.saslprep(text)


def test_saslprepMapsNonAsciiSpaces() -> None:
    assert sasl_mechanisms.saslprep("a\u00a0b") == "a b"


def test_plainAndAnonymous() -> None:
    plain = sasl_mechanisms.Plain(None, "user", "pässword")
    assert plain.getInitialResponse() == b"\x00user\x00p\xc3\xa4ssword"
    assert sasl_mechanisms.Plain("admin", "u", "p").getInitialResponse() == b"admin\x00u\x00p"
    anonymous = sasl_mechanisms.Anonymous()
    assert anonymous.getInitialResponse() is None
    assert sasl_mechanisms.ISASLMechanism.providedBy(anonymous)


def test_fromBase64() -> None:
    assert sasl.fromBase64("=") == b""
    assert sasl.fromBase64(" aGk= ") == b"hi"
    with pytest.raises(sasl.SASLIncorrectEncodingError):
        sasl.fromBase64("!!")


# -- the initializer, over an in-memory transport --------------------------------------


class Account(xmlstream.ConnectAuthenticator):
    namespace = "jabber:client"

    def __init__(self, who: str, password: str | None) -> None:
        super().__init__(jid.JID(who).host)
        self.jid = jid.JID(who)
        self.password = password


def streamWithMechanisms(who: str, password: str | None, *names: str) -> xmlstream.XmlStream:
    xs = xmlstream.XmlStream(Account(who, password))
    xs.makeConnection(StringTransport())
    mechanisms = "".join(f"<mechanism>{n}</mechanism>" for n in names)
    xs.dataReceived(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
        b" id='s1' version='1.0'><stream:features>"
        + f"<mechanisms xmlns='{sasl.NS_XMPP_SASL}'>{mechanisms}</mechanisms>".encode()
        + b"</stream:features>"
    )
    return xs


@pytest.mark.parametrize(
    ("who", "password", "offered", "chosen"),
    [
        ("a@b", "p", ("PLAIN", "SCRAM-SHA-1"), "SCRAM-SHA-1"),
        ("a@b", "p", ("SCRAM-SHA-1", "SCRAM-SHA-256"), "SCRAM-SHA-256"),
        ("b", None, ("ANONYMOUS", "PLAIN"), "ANONYMOUS"),
    ],
)
def test_mechanismChoice(
    who: str, password: str | None, offered: tuple[str, ...], chosen: str
) -> None:
    xs = streamWithMechanisms(who, password, *offered)
    initializer = sasl.SASLInitiatingInitializer(xs)
    initializer.setMechanism()
    assert initializer.mechanism.name == chosen


@pytest.mark.parametrize(
    ("who", "password", "offered", "words"),
    [
        ("a@b", "p", ("PLAIN",), "in clear"),
        ("a@b", "p", ("DIGEST-MD5", "X-OTHER"), "offers DIGEST-MD5, X-OTHER"),
        ("b", None, ("PLAIN",), "no user"),
        ("a@b", None, ("PLAIN",), "no password"),
    ],
)
def test_noAcceptableMechanism(
    who: str, password: str | None, offered: tuple[str, ...], words: str
) -> None:
    xs = streamWithMechanisms(who, password, *offered)
    failures: list[object] = []
    sasl.SASLInitiatingInitializer(xs).start().addErrback(failures.append)
    assert failures and failures[0].check(sasl.SASLNoAcceptableMechanism)  # type: ignore[attr-defined]
    assert words in str(failures[0].value)  # type: ignore[attr-defined]


def test_plainInClearWhenAllowed() -> None:
    xs = streamWithMechanisms("a@b", "p", "PLAIN")
    initializer = sasl.SASLInitiatingInitializer(xs)
    initializer.allowPlainWithoutTLS = True
    xs.transport.clear()
    d = initializer.start()
    auth = xs.transport.value().decode()
    assert 'mechanism="PLAIN"' in auth
    assert base64.b64encode(b"\x00a\x00p").decode() in auth
    results: list[object] = []
    d.addBoth(results.append)
    xs.transport.clear()
    xs.dataReceived(f"<success xmlns='{sasl.NS_XMPP_SASL}'/>".encode())
    assert results == [xmlstream.Reset]
    assert xs.transport.value().startswith(b"<?xml version='1.0'?><stream:stream")


def test_failureCarriesConditionAndText() -> None:
    xs = streamWithMechanisms("a@b", "p", "SCRAM-SHA-1")
    results: list[object] = []
    sasl.SASLInitiatingInitializer(xs).start().addBoth(results.append)
    xs.dataReceived(
        f"<failure xmlns='{sasl.NS_XMPP_SASL}'><not-authorized/><text>bad</text></failure>".encode()
    )
    failure = results[0]
    assert failure.check(sasl.SASLAuthError)  # type: ignore[attr-defined]
    assert failure.value.condition == "not-authorized"  # type: ignore[attr-defined]
    assert failure.value.text == "bad"  # type: ignore[attr-defined]


def test_badChallengeAbortsTheExchange() -> None:
    xs = streamWithMechanisms("a@b", "p", "SCRAM-SHA-1")
    results: list[object] = []
    sasl.SASLInitiatingInitializer(xs).start().addBoth(results.append)
    xs.transport.clear()
    xs.dataReceived(f"<challenge xmlns='{sasl.NS_XMPP_SASL}'>!!!</challenge>".encode())
    assert results[0].check(sasl.SASLIncorrectEncodingError)  # type: ignore[attr-defined]
    assert b"<abort" in xs.transport.value()
