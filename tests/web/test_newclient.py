"""HTTP11ClientProtocol, Request and Response in memory: what goes on the wire, how a
response and its body come back, back-pressure, and every way an exchange can fail."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.internet import defer
from torsion.internet.defer import CancelledError, Deferred
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.internet.protocol import Protocol
from torsion.internet.testing import StringTransport
from torsion.python.failure import Failure
from torsion.web._http11 import ParseError
from torsion.web._newclient import (
    HTTP11ClientProtocol,
    PotentialDataLoss,
    Request,
    RequestGenerationFailed,
    RequestNotSent,
    Response,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
    WrongBodyLength,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import UNKNOWN_LENGTH, IResponse


class Producer:
    """A body producer the test drives: it writes what it is told, when told."""

    def __init__(self, length: int | str) -> None:
        self.length = length
        self.consumer: Any = None
        self.finished: Deferred[None] = Deferred()
        self.stopped = False
        self.paused = False

    def startProducing(self, consumer: Any) -> Deferred[None]:
        self.consumer = consumer
        return self.finished

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def stopProducing(self) -> None:
        self.stopped = True


class Body(Protocol):
    """Collects a body and how it ended."""

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.reason: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)

    def connectionLost(self, reason: Any = None) -> None:
        self.reason = reason


def connected(quiescent: list[Any] | None = None) -> tuple[HTTP11ClientProtocol, StringTransport]:
    seen = quiescent if quiescent is not None else []
    client = HTTP11ClientProtocol(seen.append)
    transport = StringTransport()
    client.makeConnection(transport)
    return client, transport


def get(persistent: bool = False, method: bytes = b"GET", body: Any = None) -> Request:
    return Request(method, b"/path?q=1", Headers({b"host": [b"example.com"]}), body, persistent)


def fired(d: Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


def failure(d: Deferred[Any]) -> Failure:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results and isinstance(results[0], Failure), results
    return results[0]


def test_requestLineAndHeadersAreWritten() -> None:
    client, transport = connected()
    client.request(get())
    assert transport.value() == (
        b"GET /path?q=1 HTTP/1.1\r\nConnection: close\r\nHost: example.com\r\n\r\n"
    )


def test_persistentRequestHasNoConnectionClose() -> None:
    client, transport = connected()
    headers = Headers({b"host": [b"h"], b"connection": [b"close"]})
    client.request(Request(b"GET", b"/", headers, None, persistent=True))
    assert b"Connection: close" in transport.value()
    client2, transport2 = connected()
    client2.request(get(persistent=True))
    assert b"Connection" not in transport2.value()


def test_postWithoutBodySendsContentLengthZero() -> None:
    client, transport = connected()
    client.request(get(method=b"POST"))
    assert b"\r\nContent-Length: 0\r\n" in transport.value()


def test_bodyOfKnownLengthIsSentWithContentLength() -> None:
    client, transport = connected()
    producer = Producer(5)
    client.request(get(method=b"PUT", body=producer))
    assert transport.producer is producer
    producer.consumer.write(b"ab")
    producer.consumer.write(b"cde")
    producer.finished.callback(None)
    assert transport.value().endswith(
        b"Content-Length: 5\r\nConnection: close\r\nHost: example.com\r\n\r\nabcde"
    )
    assert transport.producer is None


def test_bodyOfUnknownLengthIsChunked() -> None:
    client, transport = connected()
    producer = Producer(UNKNOWN_LENGTH)
    client.request(get(method=b"POST", body=producer))
    producer.consumer.write(b"hello")
    producer.finished.callback(None)
    value = transport.value()
    assert b"Transfer-Encoding: chunked\r\n" in value
    assert value.endswith(b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")


def test_userFramingHeadersAreReplaced() -> None:
    client, transport = connected()
    headers = Headers({b"host": [b"h"], b"content-length": [b"99"], b"transfer-encoding": [b"x"]})
    client.request(Request(b"GET", b"/", headers, None))
    assert b"99" not in transport.value() and b"Transfer-Encoding" not in transport.value()


def test_badMethodOrTargetIsRefused() -> None:
    with pytest.raises(ValueError, match="method"):
        Request(b"GE T", b"/", None, None)
    with pytest.raises(ValueError, match="percent-encode"):
        Request(b"GET", b"/a b", None, None)
    with pytest.raises(ValueError, match="percent-encode"):
        Request(b"GET", b"/a\r\nX: y", None, None)


def test_responseAndBodyAreDelivered() -> None:
    quiescent: list[Any] = []
    client, transport = connected(quiescent)
    d = client.request(get(persistent=True))
    client.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhe")
    response = fired(d)
    assert IResponse.providedBy(response)
    assert (response.version, response.code, response.phrase) == ((b"HTTP", 1, 1), 200, b"OK")
    assert response.headers.getRawHeaders(b"x-a") == [b"b"]
    assert response.length == 5
    assert response.request is not None and response.request.method == b"GET"
    body = Body()
    response.deliverBody(body)
    assert body.data == [b"he"] and body.reason is None
    client.dataReceived(b"llo")
    assert b"".join(body.data) == b"hello"
    assert body.reason is not None and body.reason.check(ResponseDone)
    assert quiescent == [client] and client.state == "QUIESCENT"
    assert not transport.disconnecting


def test_bodyDeliveredLaterIsBuffered() -> None:
    client, _ = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    response = fired(d)
    body = Body()
    response.deliverBody(body)
    assert body.data == [b"abc"] and body.reason.check(ResponseDone)
    with pytest.raises(RuntimeError, match="twice"):
        response.deliverBody(Body())


def test_chunkedResponseAndInterimResponses() -> None:
    client, _ = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert not d.called
    client.dataReceived(
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    response = fired(d)
    assert response.code == 201 and response.length is UNKNOWN_LENGTH
    body = Body()
    response.deliverBody(body)
    assert body.data == [b"abc"] and body.reason.check(ResponseDone)


def test_headResponseHasNoBody() -> None:
    quiescent: list[Any] = []
    client, _ = connected(quiescent)
    d = client.request(get(persistent=True, method=b"HEAD"))
    client.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")
    response = fired(d)
    body = Body()
    response.deliverBody(body)
    assert body.data == [] and body.reason.check(ResponseDone)
    assert quiescent == [client]


def test_serverSayingCloseEndsTheConnection() -> None:
    quiescent: list[Any] = []
    client, transport = connected(quiescent)
    d = client.request(get(persistent=True))
    client.dataReceived(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
    fired(d)
    assert quiescent == [] and transport.disconnecting


def test_secondRequestWhileBusyIsNotSent() -> None:
    client, transport = connected()
    client.request(get())
    written = transport.value()
    f = failure(client.request(get()))
    assert f.check(RequestNotSent) and "busy" in str(f.value)
    assert transport.value() == written


def test_pausedBodyProtocolPausesTheTransport() -> None:
    client, transport = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
    response = fired(d)

    class Pausing(Body):
        def dataReceived(self, data: bytes) -> None:
            super().dataReceived(data)
            self.transport.pauseProducing()

    body = Pausing()
    response.deliverBody(body)
    client.dataReceived(b"ab")
    assert body.data == [b"ab"]
    assert transport.producerState == "paused"
    client.dataReceived(b"cd")
    assert body.data == [b"ab"]
    body.transport.resumeProducing()
    assert body.data == [b"ab", b"cd"]
    assert transport.producerState == "paused"  # paused again by the protocol
    body.transport.resumeProducing()
    assert transport.producerState == "producing"
    client.dataReceived(b"ef")
    body.transport.resumeProducing()
    assert b"".join(body.data) == b"abcdef" and body.reason.check(ResponseDone)


def test_undeliveredBodyIsBoundedByPausing() -> None:
    client, transport = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    response = fired(d)
    for _ in range(3):
        client.dataReceived(b"x" * 40000)
    assert transport.producerState == "paused"
    assert response._buffered <= Response._maxBuffered + 40000
    body = Body()
    response.deliverBody(body)
    assert sum(map(len, body.data)) == 120000
    assert transport.producerState == "producing"


def test_connectionLostBeforeResponse() -> None:
    client, _ = connected()
    d = client.request(get())
    client.connectionLost(Failure(ConnectionDone()))
    f = failure(d)
    assert f.check(ResponseNeverReceived)
    assert f.value.reasons[0].check(ConnectionDone)
    assert failure(client.request(get())).check(RequestNotSent)


def test_connectionLostMidBodyDeliversWhatCame() -> None:
    client, _ = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    body = Body()
    fired(d).deliverBody(body)
    client.connectionLost(Failure(ConnectionDone()))
    assert body.data == [b"abc"]
    assert body.reason.check(ResponseFailed)
    assert any(r.check(ParseError) for r in body.reason.value.reasons)


def test_bodyEndedByCloseIsPotentialDataLoss() -> None:
    client, _ = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.0 200 OK\r\n\r\nsome")
    body = Body()
    fired(d).deliverBody(body)
    client.dataReceived(b" more")
    client.connectionLost(Failure(ConnectionDone()))
    assert b"".join(body.data) == b"some more"
    assert body.reason.check(PotentialDataLoss)


def test_bodyEndedByAnUncleanCloseFails() -> None:
    client, _ = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.0 200 OK\r\n\r\nsome")
    body = Body()
    fired(d).deliverBody(body)
    client.connectionLost(Failure(ConnectionLost()))
    assert body.reason.check(ResponseFailed)


def test_malformedStatusLineAbortsTheConnection() -> None:
    client, transport = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.1 OK\r\n\r\n")
    assert transport.aborted
    client.connectionLost(Failure(ConnectionLost()))
    f = failure(d)
    assert f.check(ResponseNeverReceived)
    assert f.value.reasons[0].check(ParseError)
    assert "malformed status line" in str(f.value)


def test_badChunkMidBodyFailsTheBody() -> None:
    client, transport = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n")
    body = Body()
    fired(d).deliverBody(body)
    client.dataReceived(b"zz\r\n")
    assert transport.aborted
    client.connectionLost(Failure(ConnectionLost()))
    assert body.data == [b"ab"] and body.reason.check(ResponseFailed)


def test_dataWhileIdleClosesTheConnection() -> None:
    client, transport = connected()
    client.dataReceived(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.disconnecting
    assert failure(client.request(get())).check(RequestNotSent)


def test_failingProducerIsRequestGenerationFailed() -> None:
    client, transport = connected()
    producer = Producer(10)
    d = client.request(get(method=b"POST", body=producer))
    producer.finished.errback(ValueError("disk on fire"))
    f = failure(d)
    assert f.check(RequestGenerationFailed)
    assert f.value.reasons[0].check(ValueError)
    assert transport.aborted


def test_producerWritingTooLittleOrTooMuch() -> None:
    client, transport = connected()
    producer = Producer(10)
    d = client.request(get(method=b"POST", body=producer))
    producer.consumer.write(b"abc")
    producer.finished.callback(None)
    f = failure(d)
    assert f.check(RequestGenerationFailed) and f.value.reasons[0].check(WrongBodyLength)

    client, transport = connected()
    producer = Producer(2)
    d = client.request(get(method=b"POST", body=producer))
    with pytest.raises(WrongBodyLength):
        producer.consumer.write(b"abc")
    assert transport.aborted and producer.stopped
    f = failure(d)
    assert f.check(RequestGenerationFailed) and f.value.reasons[0].check(WrongBodyLength)
    assert not transport.value().endswith(b"abc")


def test_responseBeforeBodyIsSentWaitsForTheBody() -> None:
    quiescent: list[Any] = []
    client, _ = connected(quiescent)
    producer = Producer(3)
    d = client.request(get(persistent=True, method=b"POST", body=producer))
    client.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert fired(d).code == 200
    assert quiescent == [] and not producer.stopped
    producer.consumer.write(b"abc")
    producer.finished.callback(None)
    assert quiescent == [client]


def test_lostConnectionStopsTheProducer() -> None:
    client, _ = connected()
    producer = Producer(10)
    d = client.request(get(method=b"POST", body=producer))
    client.connectionLost(Failure(ConnectionLost()))
    assert producer.stopped
    assert failure(d).check(ResponseFailed.__mro__[1], ResponseFailed)


def test_cancelAbortsWithCancelledError() -> None:
    client, transport = connected()
    d = client.request(get())
    d.cancel()
    assert failure(d).check(CancelledError)
    assert transport.aborted
    client.connectionLost(Failure(ConnectionLost()))


def test_timeoutOnTheRequest() -> None:
    from torsion.internet.error import TimeoutError
    from torsion.internet.task import Clock

    clock = Clock()
    client, transport = connected()
    d = client.request(get()).addTimeout(5, clock)
    clock.advance(5)
    assert failure(d).check(TimeoutError) and transport.aborted


def test_stopProducingAbandonsTheBody() -> None:
    client, transport = connected()
    d = client.request(get())
    client.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
    body = Body()
    fired(d).deliverBody(body)
    body.transport.stopProducing()
    assert transport.aborted
    client.connectionLost(Failure(ConnectionLost()))
    assert body.reason.check(ResponseFailed)


def test_abortFiresWhenClosed() -> None:
    client, transport = connected()
    d = client.abort()
    assert transport.aborted and not d.called
    client.connectionLost(Failure(ConnectionLost()))
    assert d.called
    assert defer.succeed(None).called


def test_wrapperErrorsSayWhatHappened() -> None:
    error = ResponseFailed([Failure(ConnectionLost("gone"))])
    assert "ConnectionLost" in str(error) and error.response is None


@given(
    body=st.binary(max_size=3000),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=8),
    chunked=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_anySplitOfAResponseGivesTheSameBody(body: bytes, cuts: list[int], chunked: bool) -> None:
    from torsion.web._http11 import encodeChunk

    if chunked:
        framed = b"".join(encodeChunk(body[i : i + 700]) for i in range(0, len(body), 700))
        wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n"
    else:
        wire = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    quiescent: list[Any] = []
    client, _ = connected(quiescent)
    d = client.request(get(persistent=True))
    received = Body()
    d.addCallback(lambda response: response.deliverBody(received))
    points = sorted({min(c, len(wire)) for c in cuts} | {0, len(wire)})
    for start, end in itertools.pairwise(points):
        client.dataReceived(wire[start:end])
    assert b"".join(received.data) == body
    assert received.reason is not None and received.reason.check(ResponseDone)
    assert quiescent == [client]


def test_producerRaisingAtOnceIsRequestGenerationFailed() -> None:
    class Broken(Producer):
        def startProducing(self, consumer: Any) -> Deferred[None]:
            consumer.write(b"too much for two bytes")
            return defer.succeed(None)

    client, transport = connected()
    d = client.request(get(method=b"POST", body=Broken(2)))
    f = failure(d)
    assert f.check(RequestGenerationFailed) and f.value.reasons[0].check(WrongBodyLength)
    assert transport.aborted and transport.producer is None
