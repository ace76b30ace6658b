"""A child program for tests/internet/test_stdio.py: a protocol on StandardIO.

Usage: python _stdiochild.py REACTOR MODE [ARGUMENT]

REACTOR names the reactor to install, as the ``reactor`` fixture does (select, poll,
epoll, kqueue, asyncio, asyncio-fd, asyncio+uvloop, asyncio+uvloop-fd, qt, tk). MODE is one of
the protocols below. The program reports on stderr what its protocol saw ("lost
ConnectionDone", ...) and, once the connection is lost, the state StandardIO left
stdin and stdout in, then stops its reactor and exits 0.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from zope.interface import implementer

from torsion.internet.interfaces import IHalfCloseableProtocol
from torsion.protocols.basic import FileSender, LineReceiver


def installReactor(name: str) -> Any:
    if name.startswith("asyncio"):
        import asyncio

        from torsion.internet import asyncioreactor

        if "uvloop" in name:
            import uvloop

            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        return asyncioreactor.install(loop, nativeTransports=not name.endswith("-fd"))
    module = {
        "select": "selectreactor",
        "poll": "pollreactor",
        "epoll": "epollreactor",
        "kqueue": "kqreactor",
        "qt": "qtreactor",
        "tk": "tkreactor",  # the test's $DISPLAY (its Xvfb) is inherited
    }[name]
    return __import__(f"torsion.internet.{module}", fromlist=["install"]).install()


def report(text: str) -> None:
    os.write(2, text.encode() + b"\n")


def reportDescriptors() -> None:
    null = os.stat(os.devnull)
    state = [
        f"{fd}:{'blocking' if os.get_blocking(fd) else 'nonblocking'}:"
        f"{'devnull' if os.path.samestat(os.fstat(fd), null) else 'other'}"
        for fd in (0, 1)
    ]
    report("descriptors " + " ".join(state))


class Echo(LineReceiver):
    """Answers each line with "echo: " and the line."""

    delimiter = b"\n"

    def lineReceived(self, line: bytes) -> None:
        self.sendLine(b"echo: " + line)

    def connectionLost(self, reason: Any = None) -> None:
        report(f"lost {type(reason.value).__name__}")
        reportDescriptors()
        from torsion.internet import reactor

        reactor.stop()


@implementer(IHalfCloseableProtocol)
class Counter(Echo):
    """Counts lines; at the end of stdin, says how many, then closes stdout alone."""

    lines = 0

    def lineReceived(self, line: bytes) -> None:
        self.lines += 1

    def readConnectionLost(self) -> None:
        report("read closed")
        self.sendLine(b"%d lines" % self.lines)
        self.transport.loseWriteConnection()

    def writeConnectionLost(self) -> None:
        report("write closed")
        self.transport.loseConnection()


class SayByeFirst(Echo):
    """Says bye and closes stdout at once, but goes on reading stdin (to stderr)."""

    def connectionMade(self) -> None:
        self.sendLine(b"bye")
        self.transport.loseWriteConnection()

    def lineReceived(self, line: bytes) -> None:
        report(f"still reading {line.decode()}")


class SendFile(Echo):
    """Sends the file named on the command line to stdout with FileSender, then closes."""

    def connectionMade(self) -> None:
        sending = FileSender().beginFileTransfer(open(sys.argv[3], "rb"), self.transport)  # noqa: SIM115
        sending.addCallback(lambda _: self.transport.loseConnection())


def main() -> None:
    reactor = installReactor(sys.argv[1])
    from torsion.internet.stdio import StandardIO

    protocol = {"echo": Echo, "halfclose": Counter, "byefirst": SayByeFirst, "sendfile": SendFile}[
        sys.argv[2]
    ]()
    StandardIO(protocol)
    reactor.callLater(20, reactor.stop)  # never hang a test
    reactor.run()


if __name__ == "__main__":
    main()
