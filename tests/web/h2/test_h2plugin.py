"""``torsiond web`` and HTTP/2: its TLS endpoints offer h2 by ALPN, its cleartext ones
take h2c with prior knowledge (curl as the client, torsiond as a real process)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("h2", reason="HTTP/2 needs the h2 library: pip install torsion[http2]")

from tests.internet.tlshelpers import serverCert, theCA
from tests.tap._torsiond import freePort, runTorsiond
from torsion.internet import ssl as tssl
from torsion.tap import web
from torsion.web._http2 import offerHTTP2

CURL = shutil.which("curl")


def test_the_plugin_offers_h2_then_http11_on_tls_endpoints(tmp_path: Path) -> None:
    cert = serverCert()
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    options = web.Options()
    options.parseOptions(
        ["--listen", f"ssl:0:privateKey={tmp_path / 'key.pem'}:certKey={tmp_path / 'cert.pem'}",
         "--listen", "tcp:0"]
    )  # fmt: skip
    made = web.makeService(options)
    secure, plain = list(made)
    assert secure.endpoint._contextFactory._alpn == ["h2", "http/1.1"]
    assert not hasattr(plain.endpoint, "_contextFactory")


def test_offer_http2_keeps_alpn_protocols_chosen_by_the_user() -> None:
    leaf = serverCert()
    pem = leaf.private_key_pem.bytes(), leaf.cert_chain_pems[0].bytes()
    chosen = tssl.CertificateOptions(
        privateKey=pem[0], certificate=pem[1], acceptableProtocols=[b"http/1.1"]
    )
    assert offerHTTP2(chosen) is False
    assert chosen._alpn == ["http/1.1"]
    made = tssl.CertificateOptions(privateKey=pem[0], certificate=pem[1])
    made.getContext()
    assert offerHTTP2(made) is True
    assert offerHTTP2(object()) is False


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
def test_torsiond_web_speaks_http2_on_both_kinds_of_endpoint(tmp_path: Path) -> None:
    cert = serverCert()
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    theCA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    plain, secure = freePort(), freePort()
    args = [
        "web",
        "--listen", f"tcp:{plain}:interface=127.0.0.1",
        "--listen", f"ssl:{secure}:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem",
        "--class", "torsion.tap.web.WelcomePage",
    ]  # fmt: skip
    assert CURL is not None
    with runTorsiond(args, plain, tmp_path):
        for extra, url in (
            (["--http2-prior-knowledge"], f"http://127.0.0.1:{plain}/"),
            (["--http2", "--cacert", str(tmp_path / "ca.pem"),
              "--resolve", f"localhost:{secure}:127.0.0.1"], f"https://localhost:{secure}/"),
        ):  # fmt: skip
            done = subprocess.run(
                [CURL, "-sS", "--max-time", "10", "-w", "\n%{http_version}", *extra, url],
                capture_output=True,
                timeout=15,
            )
            assert done.returncode == 0, done.stderr
            body, _, version = done.stdout.rpartition(b"\n")
            assert version == b"2", url
            assert b"torsion web is running" in body
