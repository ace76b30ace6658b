"""TLS server for bench/tls.py: one side (implementation) per process.

Run as ``python bench/_tlsserver.py SIDE check|serve PEM``, where SIDE is one of
bench/_echoserver.py's SIDES and PEM a file with the server's certificate and key.

``check`` prints one JSON line, as bench/_echoserver.py's does (Twisted needs pyOpenSSL
and service_identity here). ``serve`` listens with TLS on 127.0.0.1 (a free port),
prints ``port N`` and runs the loop; its control thread (bench/_echoserver.py's)
answers ``stats`` with the process's CPU seconds, memory and open connections.

The protocol is the same on every side. A client that sends nothing (openssl s_time,
measuring handshakes) just handshakes. Otherwise it first sends 9 bytes: ``u`` or
``d`` and a size (8 bytes, big-endian). ``u`` (upload): the server reads that many
bytes and answers ``k``. ``d`` (download): the server sends that many bytes as a
producer would (64 KiB writes while the transport is not paused), then closes.

The same settings on every side, so that only the frameworks differ: TLS 1.3 as both
ends choose it, no session tickets (torsion's and Twisted's default; set on asyncio's
context to match), the certificate and key from PEM.
Tests: tests/bench/test_tls_smoke.py (through bench/tls.py --quick).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import ssl
import sys
import threading
from typing import Any

from _echoserver import (
    LISTEN_BACKLOG,
    SIDES,
    Side,
    _connections,
    control,
    describe,
    installReactor,
    newLoop,
    raiseFileLimit,
)

CHUNK = b"d" * 2**16


def check(side: Side) -> None:
    try:
        info = describe(side)
        if side.framework == "twisted":
            import OpenSSL  # noqa: F401
            import service_identity  # noqa: F401
    except Exception as e:  # Any failure to import or build means: not available here.
        info = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    print(json.dumps(info), flush=True)


# -- Twisted-style sides (torsion and Twisted share the API) ------------------------


def serveTwistedStyle(side: Side, pem: bytes) -> tuple[int, Any]:
    reactor = installReactor(side)
    protocolModule = importlib.import_module(f"{side.framework}.internet.protocol")
    interfaces = importlib.import_module(f"{side.framework}.internet.interfaces")
    tls = importlib.import_module(f"{side.framework}.internet.ssl")
    implementer = importlib.import_module("zope.interface").implementer
    connections = _connections

    @implementer(interfaces.IPushProducer)
    class Source:
        def __init__(self, transport: Any, left: int) -> None:
            self.transport = transport
            self.left = left
            self.paused = False
            transport.registerProducer(self, True)
            self.resumeProducing()

        def resumeProducing(self) -> None:
            self.paused = False
            write = self.transport.write
            while not self.paused and self.left > 0:
                n = min(self.left, len(CHUNK))
                write(CHUNK if n == len(CHUNK) else CHUNK[:n])
                self.left -= n
            if self.left <= 0 and self.transport is not None:
                transport, self.transport = self.transport, None
                transport.unregisterProducer()
                transport.loseConnection()

        def pauseProducing(self) -> None:
            self.paused = True

        def stopProducing(self) -> None:
            self.left = 0

    class Bench(protocolModule.Protocol):  # type: ignore[name-defined,misc]
        header = b""
        mode = b""
        left = 0

        def connectionMade(self) -> None:
            connections[0] += 1

        def dataReceived(self, data: bytes) -> None:
            if self.mode == b"u":
                self.left -= len(data)
                if self.left <= 0:
                    self.transport.write(b"k")
                return
            self.header += data
            if len(self.header) < 9:
                return
            self.mode = self.header[:1]
            self.left = int.from_bytes(self.header[1:9], "big")
            rest = self.header[9:]
            if self.mode == b"d":
                Source(self.transport, self.left)
            elif rest:
                self.dataReceived(rest)

        def connectionLost(self, reason: object = None) -> None:
            connections[0] -= 1

    factory = protocolModule.Factory()
    factory.protocol = Bench
    factory.noisy = False
    options = tls.PrivateCertificate.loadPEM(pem).options()
    port = reactor.listenSSL(0, factory, options, backlog=LISTEN_BACKLOG, interface="127.0.0.1")
    return port.getHost().port, lambda: reactor.run(installSignalHandlers=False)


# -- asyncio sides -------------------------------------------------------------------------


class AsyncioBench(asyncio.Protocol):
    """The same protocol on asyncio: pause_writing/resume_writing pace the download."""

    transport: Any = None

    def __init__(self) -> None:
        self.header = b""
        self.mode = b""
        self.left = 0
        self.paused = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        _connections[0] += 1

    def data_received(self, data: bytes) -> None:
        if self.mode == b"u":
            self.left -= len(data)
            if self.left <= 0:
                self.transport.write(b"k")
            return
        self.header += data
        if len(self.header) < 9:
            return
        self.mode = self.header[:1]
        self.left = int.from_bytes(self.header[1:9], "big")
        rest = self.header[9:]
        if self.mode == b"d":
            self.resume_writing()
        elif rest:
            self.data_received(rest)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        write = self.transport.write
        while not self.paused and self.left > 0:
            n = min(self.left, len(CHUNK))
            write(CHUNK if n == len(CHUNK) else CHUNK[:n])
            self.left -= n
        if self.left <= 0 and self.mode == b"d":
            self.mode = b"done"
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        _connections[0] -= 1


def serveAsyncio(side: Side, pemPath: str) -> tuple[int, Any]:
    loop = newLoop(side.loop or "asyncio")
    asyncio.set_event_loop(loop)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pemPath)
    context.options |= ssl.OP_NO_TICKET
    context.num_tickets = 0
    server = loop.run_until_complete(
        loop.create_server(AsyncioBench, "127.0.0.1", 0, backlog=LISTEN_BACKLOG, ssl=context)
    )
    port: int = server.sockets[0].getsockname()[1]
    return port, loop.run_forever


def main() -> None:
    usage = f"usage: {sys.argv[0]} SIDE check|serve PEM; SIDE is one of {', '.join(SIDES)}"
    if len(sys.argv) < 3 or sys.argv[1] not in SIDES:
        raise SystemExit(usage)
    side, command = SIDES[sys.argv[1]], sys.argv[2]
    raiseFileLimit()
    if command == "check":
        check(side)
        return
    if command != "serve" or len(sys.argv) != 4:
        raise SystemExit(usage)
    pemPath = sys.argv[3]
    with open(pemPath, "rb") as f:
        pem = f.read()
    if side.framework == "asyncio":
        port, run = serveAsyncio(side, pemPath)
    else:
        port, run = serveTwistedStyle(side, pem)
    threading.Thread(target=control, name="control", daemon=True).start()
    print(f"port {port}", flush=True)
    run()


if __name__ == "__main__":
    main()
