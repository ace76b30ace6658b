"""Tests for the on-disk relay queue, the MX calculator (fake resolvers) and bounces."""

from __future__ import annotations

import email
import email.policy
import os
from pathlib import Path
from typing import Any

import pytest

from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.task import Clock
from torsion.mail import bounce, relaymanager, smtp
from torsion.names import dns

# -- the queue ---------------------------------------------------------------------------


def test_aMessageIsQueuedWholeAndSurvivesARestart(tmp_path: Path) -> None:
    queue = relaymanager.Queue(str(tmp_path / "q"))
    message = queue.createMessage(b"alice@a.example", [smtp.Address(b"bob@b.example")])
    message.lineReceived(b"Subject: hi")
    assert queue.getWaiting() == []
    assert [n for n in os.listdir(queue.directory) if not n.startswith("tmp-")] == []
    d = message.eomReceived()
    assert d.called
    assert queue.getWaiting() == [message.id]
    assert queue.getEnvelope(message.id) == ["alice@a.example", ["bob@b.example"]]
    with open(queue.getPath(message.id) + "-D", "rb") as f:
        assert f.read() == b"Subject: hi\n"
    again = relaymanager.Queue(queue.directory)
    assert again.getWaiting() == [message.id]


def test_anAbandonedMessageLeavesNothing(tmp_path: Path) -> None:
    queue = relaymanager.Queue(str(tmp_path))
    message = queue.createMessage(b"a@x.example", [b"b@y.example"])
    message.lineReceived(b"half")
    message.connectionLost()
    assert os.listdir(tmp_path) == []
    assert not queue.hasWaiting()


def test_relayingAndDone(tmp_path: Path) -> None:
    queue = relaymanager.Queue(str(tmp_path))
    messageID = queue.addFromBytes(b"a@x.example", [b"b@y.example"], b"x\r\ny\r\n")
    queue.setRelaying(messageID)
    assert (queue.getWaiting(), queue.getRelayed()) == ([], [messageID])
    queue.readDirectory()
    assert queue.getWaiting() == []
    queue.setWaiting(messageID)
    assert queue.getWaiting() == [messageID]
    queue.done(messageID)
    assert os.listdir(tmp_path) == [] and not queue.hasWaiting()


def test_halfWrittenFilesAreIgnored(tmp_path: Path) -> None:
    (tmp_path / "abc-D").write_bytes(b"data without an envelope")
    (tmp_path / "tmp-def-D").write_bytes(b"unfinished")
    assert relaymanager.Queue(str(tmp_path)).getWaiting() == []


# -- MX ----------------------------------------------------------------------------------


class FakeResolver:
    """Answers lookupMailExchange from a dict: name -> records, or an exception."""

    def __init__(self, zone: dict[bytes, Any]) -> None:
        self.zone = zone
        self.asked: list[bytes] = []

    def lookupMailExchange(self, name: bytes, timeout: Any = None) -> Deferred[Any]:
        self.asked.append(name)
        answer = self.zone.get(name, [])
        if isinstance(answer, BaseException):
            return fail(answer)
        return succeed((answer, [], []))


def mx(owner: bytes, preference: int, name: bytes) -> dns.RRHeader:
    return dns.RRHeader(owner, dns.MX, payload=dns.Record_MX(preference, name))


def cname(owner: bytes, target: bytes) -> dns.RRHeader:
    return dns.RRHeader(owner, dns.CNAME, payload=dns.Record_CNAME(target))


def resultOf(d: Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "the Deferred did not fire"
    return results[0]


def test_theBestMXIsChosen() -> None:
    resolver = FakeResolver(
        {
            b"example.com": [
                mx(b"example.com", 20, b"backup.example.com"),
                mx(b"example.com", 10, b"mx1.example.com"),
            ]
        }
    )
    calculator = relaymanager.MXCalculator(resolver, Clock())
    assert str(resultOf(calculator.getMX("Example.COM")).name) == "mx1.example.com"


def test_aBadMXIsAvoidedUntilItsTimeIsUp() -> None:
    clock = Clock()
    resolver = FakeResolver(
        {
            b"example.com": [
                mx(b"example.com", 10, b"mx1.example.com"),
                mx(b"example.com", 20, b"mx2.example.com"),
            ]
        }
    )
    calculator = relaymanager.MXCalculator(resolver, clock)
    calculator.markBad("mx1.example.com")
    assert str(resultOf(calculator.getMX(b"example.com")).name) == "mx2.example.com"
    calculator.markBad("mx2.example.com")
    assert str(resultOf(calculator.getMX(b"example.com")).name) == "mx1.example.com"
    clock.advance(calculator.timeOutBadMX + 1)
    calculator.markBad("mx2.example.com")
    assert str(resultOf(calculator.getMX(b"example.com")).name) == "mx1.example.com"
    calculator.markGood("mx2.example.com")
    assert calculator.badMXs == {}


def test_withoutMXTheDomainItselfIsUsed() -> None:
    calculator = relaymanager.MXCalculator(FakeResolver({}), Clock())
    record = resultOf(calculator.getMX(b"plain.example"))
    assert str(record.name) == "plain.example"
    calculator.fallbackToDomain = False
    assert isinstance(
        resultOf(calculator.getMX(b"plain.example")).value, relaymanager.MXLookupError
    )


def test_cnameIsFollowed() -> None:
    resolver = FakeResolver(
        {
            b"alias.example": [cname(b"alias.example", b"real.example")],
            b"real.example": [mx(b"real.example", 5, b"mx.real.example")],
        }
    )
    calculator = relaymanager.MXCalculator(resolver, Clock())
    assert str(resultOf(calculator.getMX(b"alias.example")).name) == "mx.real.example"
    assert resolver.asked == [b"alias.example", b"real.example"]


def test_cnameLoopAndLongChainFail() -> None:
    loop = FakeResolver(
        {
            b"a.example": [cname(b"a.example", b"b.example")],
            b"b.example": [cname(b"b.example", b"a.example")],
        }
    )
    error = resultOf(relaymanager.MXCalculator(loop, Clock()).getMX(b"a.example")).value
    assert isinstance(error, relaymanager.CanonicalNameLoop) and error.permanent
    chain = FakeResolver(
        {
            b"c%d.example" % i: [cname(b"c%d.example" % i, b"c%d.example" % (i + 1))]
            for i in range(10)
        }
    )
    error = resultOf(relaymanager.MXCalculator(chain, Clock()).getMX(b"c0.example")).value
    assert isinstance(error, relaymanager.CanonicalNameChainTooLong)


def test_nullMXMeansNoMail() -> None:
    resolver = FakeResolver({b"nomail.example": [mx(b"nomail.example", 0, b"")]})
    error = resultOf(relaymanager.MXCalculator(resolver, Clock()).getMX(b"nomail.example")).value
    assert isinstance(error, relaymanager.MXLookupError) and error.permanent


def test_resolverErrorsPassThrough() -> None:
    resolver = FakeResolver({b"gone.example": RuntimeError("timeout")})
    assert isinstance(
        resultOf(relaymanager.MXCalculator(resolver, Clock()).getMX(b"gone.example")).value,
        RuntimeError,
    )


# -- bounces -----------------------------------------------------------------------------

ORIGINAL = b"From: alice@a.example\r\nTo: bob@b.example\r\nSubject: lunch\r\n\r\nsecret body\r\n"


def test_generateBounceIsAnRFC3464Report() -> None:
    sender, to, data = bounce.generateBounce(
        ORIGINAL,
        b"alice@a.example",
        [(b"bob@b.example", b"5.1.1", b"550 no such user")],
        reportingMTA=b"mx.test",
    )
    assert (sender, to) == (b"", b"alice@a.example")
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "delivery-status"
    assert parsed["Auto-Submitted"] == "auto-replied"
    human, status, headers = parsed.iter_parts()
    assert "bob@b.example" in human.get_content()
    assert status.get_content_type() == "message/delivery-status"
    raw = data.decode()
    assert "Final-Recipient: rfc822; bob@b.example" in raw
    assert "Status: 5.1.1" in raw and "Diagnostic-Code: smtp; 550 no such user" in raw
    assert "Reporting-MTA: dns; mx.test" in raw
    assert headers.get_content_type() == "text/rfc822-headers"
    assert b"Subject: lunch" in data and b"secret body" not in data


def test_bounceHeadersCannotBeInjected() -> None:
    _, _, data = bounce.generateBounce(
        ORIGINAL, b"alice@a.example\r\nBcc: x@evil.example", b"bob@b.example"
    )
    assert b"\r\nBcc:" not in data


@pytest.mark.parametrize("original", [ORIGINAL, b"no blank line at all"])
def test_bounceFromAFile(tmp_path: Path, original: bytes) -> None:
    path = tmp_path / "m"
    path.write_bytes(original)
    with open(path, "rb") as f:
        _, _, data = bounce.generateBounce(
            f, b"a@x.example", b"b@y.example", transcript=b"451 later"
        )
    assert b"Diagnostic-Code: smtp; 451 later" in data


def test_aMessageForSeveralDomainsIsSplitPerDomain(tmp_path: Path) -> None:
    queue = relaymanager.Queue(str(tmp_path))
    messageID = queue.addFromBytes(
        b"a@x.example", [b"b@one.example", b"c@two.example", b"d@ONE.example"], b"body\r\n"
    )
    parts = queue.splitByDomain(messageID)
    assert parts[0] == messageID and len(parts) == 2
    assert queue.getEnvelope(messageID)[1] == ["b@one.example", "d@ONE.example"]
    assert queue.getEnvelope(parts[1])[1] == ["c@two.example"]
    with open(queue.getPath(parts[1]) + "-D", "rb") as f:
        assert f.read() == b"body\n"
    assert sorted(queue.getWaiting()) == sorted(parts)
    assert queue.splitByDomain(parts[1]) == [parts[1]]
