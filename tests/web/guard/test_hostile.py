"""Hostile Authorization headers: never a 500, never a crash, the connection goes on.

Hand-made headers go over a real socket with http.client (and raw bytes where
http.client would refuse to send them); hypothesis throws arbitrary header values at
the wrapper in memory. Every answer must be a 400 or a 401 (or the HTTP layer's own
refusal of a header it cannot parse), nothing may be logged as an error, and no
checker may see credentials it was not meant to.
"""

from __future__ import annotations

import base64
import http.client
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web import _webhelpers
from tests.web._webhelpers import Peer, listenSite, runBlocking
from tests.web.guard.digestclient import authorization, challengeParams
from tests.web.guard.helpers import RecordingRealm, memoryPortal
from tests.web.webtesting import MemorySite
from torsion.logger import LogLevel
from torsion.web.guard import (
    BasicCredentialFactory,
    DigestCredentialFactory,
    HTTPAuthSessionWrapper,
)
from torsion.web.server import Site

oneReactor = _webhelpers.oneReactor

HOSTILE = [
    b"",
    b" ",
    b"Basic",
    b"Digest",
    b"Basic " + b"A" * 6000,
    b"Basic \xff\xfe\xfd",
    b"Basic Og==",  # ":" alone: empty user and password
    b"Basic " + base64.b64encode(b"alice:s3cret\x00"),
    b"Basic " + base64.b64encode(b"alice") + b"====",
    b"Basic YWxpY2U6czNjcmV0 trailing",
    b"Digest " + b'a="' * 500,
    b"Digest " + b",".join(b"p%d=1" % i for i in range(200)),
    b'Digest username="a", username="b"',
    b'Digest nonce="' + b"x" * 5000 + b'"',
    b'Digest username="alice\\',
    b'Digest username="\xc3\x28", realm="torsion tests", nonce="n", uri="/", response="0"',
    b"Digest username*=UTF-8''%ZZ%00",
    b'Digest username="alice", realm="torsion tests", nonce="n", uri="/", response="'
    + b"0" * 64
    + b'", qop=auth, nc=ffffffff, cnonce="c", algorithm=SHA-256',
    b"Digest ===",
    b"Negotiate YIIB",
    b"Bearer " + b"x" * 100,
    b"\tBasic\t",
]


def serve(reactor: Any) -> tuple[int, RecordingRealm]:
    realm = RecordingRealm()
    factories = [
        DigestCredentialFactory(b"sha256", "torsion tests"),
        DigestCredentialFactory(b"md5", "torsion tests"),
        BasicCredentialFactory("torsion tests"),
    ]
    site = Site(HTTPAuthSessionWrapper(memoryPortal(realm), factories), reactor=reactor)
    return listenSite(reactor, site), realm


def errors(logged: list[Any]) -> list[Any]:
    return [e for e in logged if e.get("log_level", LogLevel.info) >= LogLevel.error]


def test_handMadeHeadersAre400Or401OnOneConnection(oneReactor: Any, logged: list[Any]) -> None:
    port, realm = serve(oneReactor)
    peer = Peer(oneReactor, port)
    for value in HOSTILE:
        peer.send(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + value + b"\r\n\r\n")
        response = peer.response()
        assert response.status in (400, 401), (value, response.status)
        if response.status == 401:
            assert response.headers.get_all("WWW-Authenticate")
    # Still serving after all that: a good login on the same connection.
    good = base64.b64encode(b"alice:s3cret")
    peer.send(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic " + good + b"\r\n\r\n")
    assert peer.response().status == 200
    peer.close()
    assert realm.logins == [b"alice"]
    assert errors(logged) == []


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", "Basic YWxpY2U6czNjcmV0"), ("Authorization", "Basic YWxpY2U6czNjcmV0")],
        [("Authorization", "bAsIc YWxpY2U6czNjcmV0")],
        [("AUTHORIZATION", "Digest realm=x")],
    ],
    ids=["twice", "scheme-case", "name-case"],
)
def test_httpClientHeaders(oneReactor: Any, headers: list[tuple[str, str]]) -> None:
    port, _ = serve(oneReactor)

    def request() -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.putrequest("GET", "/")
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    status = runBlocking(oneReactor, request)
    expected = {"twice": 400, "scheme-case": 200, "name-case": 401}
    assert status == expected[_ids(headers)]


def _ids(headers: list[tuple[str, str]]) -> str:
    if len(headers) == 2:
        return "twice"
    return "scheme-case" if headers[0][1].startswith("bAsIc") else "name-case"


def test_aCapturedDigestHeaderCannotBeReplayedOrMoved(oneReactor: Any) -> None:
    port, realm = serve(oneReactor)
    peer = Peer(oneReactor, port)
    peer.send(b"GET /mine HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    challenge = challengeParams(peer.response().headers.get_all("WWW-Authenticate")[0].encode())
    header = authorization(challenge, "alice", "s3cret", b"/mine")
    for path, expected in [(b"/mine", 200), (b"/mine", 401), (b"/other", 401)]:
        peer.send(b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ")
        peer.send(header + b"\r\n\r\n")
        assert peer.response().status == expected
    peer.close()
    assert realm.logins == [b"alice"]


_HEADER_VALUE = st.binary(max_size=120).filter(
    lambda b: b"\r" not in b and b"\n" not in b and b"\x00" not in b
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    scheme=st.sampled_from([b"Basic ", b"Digest ", b"basic", b"", b"DIGEST "]), rest=_HEADER_VALUE
)
def test_anyHeaderValueGetsA400Or401(scheme: bytes, rest: bytes, logged: list[Any]) -> None:
    site = MemorySite(None)
    factories = [
        DigestCredentialFactory(b"sha256", "r", reactor=site.clock),
        BasicCredentialFactory("r"),
    ]
    realm = RecordingRealm()
    site.site.resource = HTTPAuthSessionWrapper(memoryPortal(realm), factories)
    site.transport.clear()
    site.send(b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: " + scheme + rest + b"\r\n\r\n")
    responses = site.responses()
    assert all(r.code in (400, 401) for r in responses), [r.code for r in responses]
    assert realm.logins == []
    assert errors(logged) == []
