"""torsion.web over TLS: isSecure, the Secure session cookie, and curl as the client."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.internet.reactormixins import runUntilFired
from torsion.internet import ssl as tssl
from torsion.internet import utils
from torsion.web import resource, server

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


class Secure(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        session = request.getSession()
        return b"secure=%r session=%s" % (request.isSecure(), session.uid)


def test_a_session_over_tls_gets_a_secure_cookie(tmp_path: Path) -> None:
    from torsion.internet import reactor

    authority = trustme.CA()
    leaf = authority.issue_cert("localhost", "127.0.0.1")
    options = tssl.CertificateOptions(
        privateKey=tssl.KeyPair.loadPEM(leaf.private_key_pem.bytes()),
        certificate=tssl.Certificate.loadPEM(leaf.cert_chain_pems[0].bytes()),
    )
    caFile = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(caFile))
    port = reactor.listenSSL(0, server.Site(Secure()), options, interface="127.0.0.1")
    try:
        url = f"https://127.0.0.1:{port.getHost().port}/"
        out, err, code = runUntilFired(
            reactor,
            utils.getProcessOutputAndValue(
                shutil.which("curl") or "curl", ["-sS", "-i", "--cacert", str(caFile), url]
            ),
            timeout=20,
        )
    finally:
        runUntilFired(reactor, port.stopListening())
    assert code == 0, err
    head, _, body = out.partition(b"\r\n\r\n")
    assert body.startswith(b"secure=True session=")
    (cookie,) = [line for line in head.split(b"\r\n") if line.lower().startswith(b"set-cookie:")]
    assert b"TORSION_SESSION_SECURE=" in cookie
    assert b"; Secure" in cookie and b"HttpOnly" in cookie
