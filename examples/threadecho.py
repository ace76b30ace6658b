"""The seed talk's two thread examples: a line echo whose (blocking) work runs in threads.

The reactor runs in one thread and must never block; blocking work goes to the
reactor's thread pool, and its result comes back to the reactor thread. The talk shows
two ways, both here:

- ``--via callInThread`` (EcoInThread): ``reactor.callInThread(self.work, line)``
  runs ``work`` in a pool thread, and ``work`` hands the result back with
  ``reactor.callFromThread(self.sendLine, result)``.
- ``--via deferToThread`` (EcoDeferred, the default):
  ``threads.deferToThread(self.work, line).addCallback(self.sendLine)``: the same,
  with a Deferred doing the hand-back.

The work sleeps for ``--work-seconds`` (0.05 by default; the talk slept 5 to 10 s) to
stand for a blocking call such as a database query. Because it runs in a pool thread,
the server keeps answering other clients meanwhile: ten clients that each send a line
at the same moment all get their answers after about one work time, not ten.

Run it with ``python examples/threadecho.py [--via callInThread] [--port N]`` (port
7778 on 127.0.0.1 by default) and try ``nc -C 127.0.0.1 7778`` from several terminals.
Tests: tests/examples/test_threadecho.py.
"""

from __future__ import annotations

import argparse
import sys
import time

from torsion.internet import protocol, reactor, threads
from torsion.internet.error import CannotListenError
from torsion.protocols import basic
from torsion.python import log

# The longest --work-seconds accepted: the example must stay quick to try.
MAX_WORK_SECONDS = 10.0


def blockingWork(line: bytes, seconds: float) -> bytes:
    """Block for ``seconds``, as real work would, then return the answer (the line).

    It runs in a pool thread, so it only computes: it must not touch a transport or a
    protocol's state.
    """
    time.sleep(seconds)
    return line


class SlowEcho(basic.LineReceiver):
    """What both servers share: a log line per request saying how it reached a thread."""

    def logRequest(self, line: bytes, how: str) -> None:
        """Say in the log that ``line`` was handed to a thread, and how."""
        log.msg(f"{line.decode('utf-8', 'replace')!r} handed to a thread with {how}")


class EcoInThread(SlowEcho):
    """The first way: callInThread there, callFromThread back."""

    def lineReceived(self, line: bytes) -> None:
        """Start the work in a pool thread; the reactor goes on serving others."""
        self.logRequest(line, "callInThread")
        reactor.callInThread(self.work, line)

    def work(self, line: bytes) -> None:
        """In a pool thread: do the work, then have the reactor thread send the answer."""
        result = blockingWork(line, self.factory.workSeconds)
        reactor.callFromThread(self.sendLine, result)


class EcoDeferred(SlowEcho):
    """The second way: deferToThread, with the answer sent from the Deferred's callback."""

    def lineReceived(self, line: bytes) -> None:
        """Run the work in a pool thread; its result fires a Deferred in the reactor thread."""
        self.logRequest(line, "deferToThread")
        threads.deferToThread(self.work, line).addCallback(self.sendLine)

    def work(self, line: bytes) -> bytes:
        """In a pool thread: do the work and return the answer."""
        return blockingWork(line, self.factory.workSeconds)


class SlowEchoFactory(protocol.ServerFactory):
    """Builds the chosen protocol; holds how long each line's work takes."""

    def __init__(self, protocolClass: type[SlowEcho], workSeconds: float) -> None:
        self.protocol = protocolClass
        self.workSeconds = workSeconds


PROTOCOLS: dict[str, type[SlowEcho]] = {
    "callInThread": EcoInThread,
    "deferToThread": EcoDeferred,
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, listen on 127.0.0.1, and run until stopped."""
    parser = argparse.ArgumentParser(description="A line echo whose work runs in threads.")
    parser.add_argument("--port", type=int, default=7778, help="TCP port (0: any free port)")
    parser.add_argument(
        "--via",
        choices=sorted(PROTOCOLS),
        default="deferToThread",
        help="how the work reaches a thread and the answer comes back",
    )
    parser.add_argument(
        "--work-seconds",
        type=float,
        default=0.05,
        help=f"how long each line's work blocks (0 to {MAX_WORK_SECONDS:g})",
    )
    options = parser.parse_args(argv)
    if not 0 <= options.work_seconds <= MAX_WORK_SECONDS:
        parser.error(f"--work-seconds must be between 0 and {MAX_WORK_SECONDS:g}")

    log.startLogging(sys.stdout)
    factory = SlowEchoFactory(PROTOCOLS[options.via], options.work_seconds)
    try:
        reactor.listenTCP(options.port, factory, interface="127.0.0.1")
    except CannotListenError as e:
        # Logging has taken over sys.stderr; the user must see this on the terminal.
        print(f"threadecho: {e}", file=sys.__stderr__)
        return 1
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
