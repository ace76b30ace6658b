"""HTTP/2 servers for bench/h2.py: one side per process.

Run as ``python bench/_h2server.py --side SIDE --cert CERT --key KEY [--h2c]``: listen
on 127.0.0.1 (a free port), print ``port N`` and serve until standard input closes.
Every side serves ``GET /hello`` (``Hello, world!``) and ``GET /big`` (``BIG_SIZE``
bytes, written by the resource in one go) from a plain root Resource, over TLS with
ALPN "h2" then "http/1.1", or, with ``--h2c`` (torsion only: Twisted has no h2c with
prior knowledge), over cleartext.

The sides: ``torsion`` (torsion.web.server.Site on torsion's default reactor) and
``twisted`` (twisted.web.server.Site, Twisted's default reactor, with Twisted's
HTTP/2 from its ``http2`` extra: h2 and priority). The two share this code, since
torsion keeps Twisted's names. This file imports neither at module level: each runs
under its own interpreter (Twisted's in bench/.venv-twisted-h2).
Tests: tests/bench/test_h2_smoke.py (through bench/h2.py --quick).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
from typing import Any

# This script's directory holds bench/h2.py, which would shadow the h2 library.
if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(os.path.realpath(__file__)):
    del sys.path[0]

HELLO = b"Hello, world!"
BIG_SIZE = 1024 * 1024


def serve(framework: str, cert: str, key: str, h2c: bool) -> None:
    default = importlib.import_module(f"{framework}.internet.default")
    default.install()
    reactor: Any = importlib.import_module(f"{framework}.internet.reactor")
    resource = importlib.import_module(f"{framework}.web.resource")
    server = importlib.import_module(f"{framework}.web.server")
    ssl = importlib.import_module(f"{framework}.internet.ssl")

    class Hello(resource.Resource):  # type: ignore[misc, name-defined]
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            return HELLO

    big = bytes(range(256)) * (BIG_SIZE // 256)

    class Big(resource.Resource):  # type: ignore[misc, name-defined]
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            return big

    root = resource.Resource()
    root.putChild(b"hello", Hello())
    root.putChild(b"big", Big())
    site = server.Site(root)
    if h2c:
        port = reactor.listenTCP(0, site, backlog=1024, interface="127.0.0.1")
    else:
        with open(key, "rb") as keyFile, open(cert, "rb") as certFile:
            pem = keyFile.read() + certFile.read()
        if framework == "twisted":
            private = ssl.PrivateCertificate.loadPEM(pem)
            options = ssl.CertificateOptions(
                privateKey=private.privateKey.original,
                certificate=private.original,
                acceptableProtocols=[b"h2", b"http/1.1"],
            )
        else:
            options = ssl.CertificateOptions(
                privateKey=key, certificate=cert, acceptableProtocols=[b"h2", b"http/1.1"]
            )
        port = reactor.listenSSL(0, site, options, backlog=1024, interface="127.0.0.1")
    print(f"port {port.getHost().port}", flush=True)

    def waitForEnd() -> None:
        sys.stdin.read()
        reactor.callFromThread(reactor.stop)

    threading.Thread(target=waitForEnd, daemon=True).start()
    reactor.run()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", choices=["torsion", "twisted"], required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--h2c", action="store_true")
    options = parser.parse_args()
    serve(options.side, options.cert, options.key, options.h2c)


if __name__ == "__main__":
    main()
