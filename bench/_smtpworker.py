"""ESMTP server and pipelined client for bench/smtp.py: one side per server process.

Run as ``python bench/_smtpworker.py SIDE COMMAND ...``, where SIDE is one of ``SIDES``:

``check``
    Print one JSON line: ``{"ok": true, "reactor": ..., "versions": ...}`` if this side
    can run its ESMTP server here, else ``{"ok": false, "reason": ...}``.
``serve MAILDIR``
    Listen on 127.0.0.1 (a free port) with the side's ``ESMTP`` protocol class made by
    its ``SMTPFactory``; the delivery accepts every sender and recipient, adds a
    Received header and writes each message into the maildir MAILDIR (tmp/, fsync,
    rename into new/). Print ``port N`` and run until standard input closes. Both
    sides run this same code (torsion keeps Twisted's names), so the difference is
    the SMTP server.

``python bench/_smtpworker.py client PORT SERVER_PID CONNECTIONS SECONDS WARMUP`` runs
the load: CONNECTIONS sockets (plain ``selectors``, no framework), each sending
``MAIL``, ``RCPT`` and ``DATA`` in one write (RFC 2920 pipelining), the message and the
next transaction's commands in the next, for WARMUP then SECONDS measured, then one
JSON line ``{"messages", "seconds", "cpu", "serverCpu"}`` (the server's CPU from
/proc at both ends of the window). Every reply code is checked.
Tests: tests/mail/test_smtp_bench.py (through bench/smtp.py --quick).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import selectors
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _echoserver import Side, installReactor

SIDES: dict[str, Side] = {
    "torsion": Side("torsion", "torsion.internet.default", None),
    "torsion-uvloop": Side("torsion", "torsion.internet.asyncioreactor", "uvloop"),
    "twisted": Side("twisted", "twisted.internet.default", None),
}


def message() -> bytes:
    """A plain 2 KB message of 40 lines, as the client sends it (CRLF, dot-stuffed)."""
    head = (
        b"From: Bench Sender <bench@client.example>\r\n"
        b"To: user@bench.example\r\n"
        b"Subject: the quarterly numbers\r\n"
        b"Message-ID: <bench@client.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    body = b"".join(
        b"Line %02d of the body, with some ordinary text to make it long.\r\n" % i
        for i in range(34)
    )
    return head + body


GROUP = b"MAIL FROM:<bench@client.example>\r\nRCPT TO:<user@bench.example>\r\nDATA\r\n"


def describe(side: Side) -> dict[str, Any]:
    versions = {"python": platform.python_version()}
    if side.loop == "uvloop":
        import uvloop

        versions["uvloop"] = uvloop.__version__
    framework = importlib.import_module(side.framework)
    versions[side.framework] = getattr(framework, "__version__", "?")
    reactor = installReactor(side)
    importlib.import_module(f"{side.framework}.mail.smtp")
    return {
        "ok": True,
        "reactor": f"{type(reactor).__module__}.{type(reactor).__name__}",
        "versions": versions,
    }


def check(side: Side) -> None:
    try:
        info = describe(side)
    except Exception as e:  # Any failure to import or build means: not available here.
        info = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    print(json.dumps(info), flush=True)


def control() -> None:
    """Exit as soon as standard input closes."""
    sys.stdin.read()
    os._exit(0)


class Maildir:
    """Writes messages into a maildir the usual way: tmp/, fsync, rename to new/."""

    def __init__(self, path: str) -> None:
        self.path = path
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self.prefix = f"{os.getpid()}_"
        self.host = socket.gethostname().replace("/", "_").replace(":", "_")
        self.count = 0

    def deliver(self, data: bytes) -> str:
        self.count += 1
        name = f"{int(time.time())}.{self.prefix}{self.count}.{self.host}"
        temporary = os.path.join(self.path, "tmp", name)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, os.path.join(self.path, "new", name))
        return name


def serve(side: Side, maildirPath: str) -> None:
    reactor = installReactor(side)
    smtp = importlib.import_module(f"{side.framework}.mail.smtp")
    defer = importlib.import_module(f"{side.framework}.internet.defer")
    implementer = importlib.import_module("zope.interface").implementer
    maildir = Maildir(maildirPath)

    @implementer(smtp.IMessage)
    class MaildirMessage:
        def __init__(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)

        def eomReceived(self) -> Any:
            self.lines.append(b"")
            maildir.deliver(b"\n".join(self.lines))
            return defer.succeed(None)

        def connectionLost(self) -> None:
            self.lines = []

    @implementer(smtp.IMessageDelivery)
    class Delivery:
        def receivedHeader(self, helo: Any, origin: Any, recipients: Any) -> bytes:
            return (
                b"Received: from " + helo[0] + b" by bench.example with ESMTP; " + smtp.rfc822date()
            )

        def validateFrom(self, helo: Any, origin: Any) -> Any:
            return origin

        def validateTo(self, user: Any) -> Any:
            return MaildirMessage

    delivery = Delivery()

    class Factory(smtp.SMTPFactory):  # type: ignore[misc,name-defined]
        protocol = smtp.ESMTP

        def buildProtocol(self, addr: Any) -> Any:
            protocol = smtp.SMTPFactory.buildProtocol(self, addr)
            protocol.delivery = delivery
            return protocol

    factory = Factory()
    factory.domain = b"bench.example"
    factory.noisy = False
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    threading.Thread(target=control, name="control", daemon=True).start()
    print(f"port {port.getHost().port}", flush=True)
    reactor.run(installSignalHandlers=False)


# -- the client --------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def processCpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        after = stat.read().rpartition(")")[2].split()
    return (int(after[11]) + int(after[12])) / _TICKS


class Connection:
    """One pipelined SMTP session: expects 250 250 354 250 per message."""

    EXPECTED = (250, 250, 354, 250)

    def __init__(self, port: int, body: bytes) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.step = 0
        self.sent = 0
        self.payload = body + b".\r\n" + GROUP
        self.lines = self.readLines(1)
        if not self.lines[-1].startswith(b"220"):
            raise SystemExit(f"bad greeting {self.lines!r}")
        self.sock.sendall(b"EHLO client.example\r\n")
        reply = self.readLines(1)
        if not reply[-1].startswith(b"250"):
            raise SystemExit(f"EHLO refused: {reply!r}")
        self.sock.sendall(GROUP)
        self.sock.setblocking(False)

    def readLines(self, finals: int) -> list[bytes]:
        lines: list[bytes] = []
        while sum(1 for line in lines if line[3:4] != b"-") < finals:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("the server closed the connection")
            self.buffer += chunk
            *complete, self.buffer = self.buffer.split(b"\r\n")
            lines += complete
        return lines

    def readable(self) -> int:
        """Handle what arrived; return how many messages it completed."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection")
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\r\n")
        done = 0
        for line in complete:
            if line[3:4] == b"-":
                continue
            code = int(line[:3])
            expected = self.EXPECTED[self.step]
            if code != expected:
                raise SystemExit(f"expected {expected}, got {line[:200]!r}")
            if self.step == 2:
                self.sock.sendall(self.payload)
            elif self.step == 3:
                done += 1
            self.step = (self.step + 1) % 4
        return done


def client(port: int, serverPid: int, connections: int, seconds: float, warmup: float) -> int:
    body = message()
    selector = selectors.DefaultSelector()
    conns = [Connection(port, body) for _ in range(connections)]
    for conn in conns:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    start = time.perf_counter()
    windowStart, windowEnd = start + warmup, start + warmup + seconds
    measuring = False
    messages = 0
    began = (0.0, 0.0, 0.0)
    while True:
        for key, _ in selector.select(timeout=5):
            done = key.data.readable()
            if measuring:
                messages += done
        now = time.perf_counter()
        if not measuring and now >= windowStart:
            began = (now, time.process_time(), processCpu(serverPid))
            measuring = True
        elif measuring and now >= windowEnd:
            ended = (now, time.process_time(), processCpu(serverPid))
            break
        if now > windowEnd + 60:
            raise SystemExit("timed out")
    for conn in conns:
        conn.sock.close()
    print(
        json.dumps(
            {
                "messages": messages,
                "seconds": ended[0] - began[0],
                "cpu": ended[1] - began[1],
                "serverCpu": ended[2] - began[2],
            }
        ),
        flush=True,
    )
    return 0


def main() -> int:
    usage = (
        f"usage: {sys.argv[0]} SIDE check | SIDE serve MAILDIR | client PORT SERVER_PID "
        f"CONNECTIONS SECONDS WARMUP; SIDE is one of {', '.join(SIDES)}"
    )
    if len(sys.argv) == 7 and sys.argv[1] == "client":
        port, pid, connections, seconds, warmup = sys.argv[2:]
        return client(int(port), int(pid), int(connections), float(seconds), float(warmup))
    if len(sys.argv) < 3 or sys.argv[1] not in SIDES:
        raise SystemExit(usage)
    side, command = SIDES[sys.argv[1]], sys.argv[2]
    if command == "check":
        check(side)
    elif command == "serve" and len(sys.argv) == 4:
        serve(side, sys.argv[3])
    else:
        raise SystemExit(usage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
