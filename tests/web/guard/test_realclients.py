"""torsion.web.guard against real clients: curl -u, curl --digest, and urllib's handlers.

A Site with an HTTPAuthSessionWrapper serves 127.0.0.1 from the test's reactor; curl
runs as a child process and urllib in a worker thread, so what is checked is what
those clients really send: their Basic encoding, their Digest arithmetic (SHA-256 and
MD5, nonce counts, cnonce, the URI with its query), and that a refused login is a 401
they understand.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.web import _webhelpers
from tests.web._webhelpers import listenSite, runBlocking, runCommand
from tests.web.guard.helpers import RecordingRealm, memoryPortal
from torsion.web.guard import (
    BasicCredentialFactory,
    DigestCredentialFactory,
    HTTPAuthSessionWrapper,
)
from torsion.web.server import Site

oneReactor = _webhelpers.oneReactor

CURL = shutil.which("curl")
needsCurl = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")


def curlVersion() -> tuple[int, ...]:
    if CURL is None:
        return (0,)
    words = subprocess.run([CURL, "--version"], capture_output=True, timeout=10).stdout.split()
    return tuple(int(part) for part in words[1].split(b".")[:2])


CURL_VERSION = curlVersion()


def serve(reactor: Any, *algorithms: bytes, basic: bool = True) -> tuple[int, RecordingRealm]:
    realm = RecordingRealm()
    factories: list[Any] = [DigestCredentialFactory(a, "torsion tests") for a in algorithms]
    if basic:
        factories.append(BasicCredentialFactory("torsion tests"))
    site = Site(HTTPAuthSessionWrapper(memoryPortal(realm), factories), reactor=reactor)
    return listenSite(reactor, site), realm


def curl(reactor: Any, *args: str) -> tuple[int, bytes]:
    """Run curl; return the final status and body."""
    assert CURL is not None
    done = runCommand(
        reactor,
        [CURL, "-s", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", *args],
    )
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


@needsCurl
def test_curlBasic(oneReactor: Any) -> None:
    port, realm = serve(oneReactor, b"sha256")
    status, body = curl(oneReactor, "-u", "alice:s3cret", f"http://127.0.0.1:{port}/a/b?c=d")
    assert status == 200
    assert json.loads(body)["user"] == "alice"
    assert realm.logouts == [b"alice"]


@needsCurl
def test_curlBasicWithUtf8(oneReactor: Any) -> None:
    port, _ = serve(oneReactor)
    status, body = curl(oneReactor, "-u", "zoë:pässwörd", f"http://127.0.0.1:{port}/")
    assert status == 200
    assert json.loads(body)["user"] == "zoë"


@needsCurl
@pytest.mark.parametrize(
    "algorithms",
    [
        (b"sha256",),
        (b"md5",),
        (b"sha256", b"md5"),
        pytest.param(
            (b"sha512-256",),
            marks=pytest.mark.skipif(
                CURL_VERSION < (8, 8),
                reason="curl before 8.8 hashes SHA-512-256 with SHA-256 (this is curl "
                f"{'.'.join(map(str, CURL_VERSION))}); the RFC's arithmetic is checked in "
                "test_digest.py",
            ),
        ),
        (b"sha256-sess",),
    ],
    ids=["sha256", "md5", "sha256+md5", "sha512-256", "sha256-sess"],
)
def test_curlDigest(oneReactor: Any, algorithms: tuple[bytes, ...]) -> None:
    port, realm = serve(oneReactor, *algorithms, basic=False)
    status, body = curl(
        oneReactor, "--digest", "-u", "alice:s3cret", f"http://127.0.0.1:{port}/x/y?q=1&r=2"
    )
    assert status == 200, body
    assert json.loads(body)["user"] == "alice"
    assert realm.logins == [b"alice"]


@needsCurl
def test_curlDigestPostSignsItsMethod(oneReactor: Any) -> None:
    port, _ = serve(oneReactor, b"sha256")
    status, body = curl(
        oneReactor, "--digest", "-u", "alice:s3cret", "-d", "x=1", f"http://127.0.0.1:{port}/form"
    )
    assert status == 200
    assert json.loads(body)["method"] == "POST"


@needsCurl
def test_curlDigestWithUtf8User(oneReactor: Any) -> None:
    port, _ = serve(oneReactor, b"sha256", basic=False)
    status, body = curl(oneReactor, "--digest", "-u", "zoë:pässwörd", f"http://127.0.0.1:{port}/")
    assert status == 200
    assert json.loads(body)["user"] == "zoë"


@needsCurl
def test_curlDigestReusesTheNonceOnOneConnection(oneReactor: Any) -> None:
    port, realm = serve(oneReactor, b"sha256", basic=False)
    url = f"http://127.0.0.1:{port}/"
    done = runCommand(
        oneReactor,
        [CURL, "-s", "--max-time", "10", "--digest", "-u", "alice:s3cret", url, url, url],
    )
    assert done.stdout.count(b'"user": "alice"') == 3
    assert realm.logins == [b"alice"] * 3


@needsCurl
@pytest.mark.parametrize("scheme", ["--digest", "--basic", "--anyauth"])
def test_curlWithAWrongPasswordGets401(oneReactor: Any, scheme: str) -> None:
    port, realm = serve(oneReactor, b"sha256", b"md5")
    status, _ = curl(oneReactor, scheme, "-u", "alice:wrong", f"http://127.0.0.1:{port}/")
    assert status == 401
    assert realm.logins == []


@needsCurl
def test_curlAnyauthPicksDigest(oneReactor: Any) -> None:
    port, _ = serve(oneReactor, b"sha256")
    assert CURL is not None
    done = runCommand(
        oneReactor,
        [
            CURL,
            "-sv",
            "--max-time",
            "10",
            "--anyauth",
            "-u",
            "alice:s3cret",
            f"http://127.0.0.1:{port}/",
        ],
    )
    assert b'"user": "alice"' in done.stdout
    assert b"Authorization: Digest" in done.stderr


def urlopen(port: int, handler: Any, path: str = "/") -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{port}{path}"
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, url, handler[1], handler[2])
    opener = urllib.request.build_opener(handler[0](passwords))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


def test_urllibBasic(oneReactor: Any) -> None:
    port, _ = serve(oneReactor, b"sha256")
    handler = (urllib.request.HTTPBasicAuthHandler, "alice", "s3cret")
    status, body = runBlocking(oneReactor, lambda: urlopen(port, handler, "/p?x=1"))
    assert status == 200
    assert json.loads(body)["user"] == "alice"


def test_urllibDigest(oneReactor: Any) -> None:
    # urllib reads only the first challenge and knows MD5 and SHA-1, not SHA-256.
    port, _ = serve(oneReactor, b"md5")
    handler = (urllib.request.HTTPDigestAuthHandler, "alice", "s3cret")
    status, body = runBlocking(oneReactor, lambda: urlopen(port, handler, "/p?x=1"))
    assert status == 200
    assert json.loads(body)["user"] == "alice"


def test_urllibDigestWithSha1(oneReactor: Any) -> None:
    port, _ = serve(oneReactor, b"sha", basic=False)
    handler = (urllib.request.HTTPDigestAuthHandler, "alice", "s3cret")
    status, _ = runBlocking(oneReactor, lambda: urlopen(port, handler))
    assert status == 200


@pytest.mark.parametrize(
    "handler", [urllib.request.HTTPBasicAuthHandler, urllib.request.HTTPDigestAuthHandler]
)
def test_urllibWithAWrongPasswordGets401(oneReactor: Any, handler: Any) -> None:
    port, realm = serve(oneReactor, b"md5")
    status, _ = runBlocking(oneReactor, lambda: urlopen(port, (handler, "alice", "nope")))
    assert status == 401
    assert realm.logins == []
