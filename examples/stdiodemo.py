"""A line protocol on stdin and stdout: the seed's "a wrapper around a file".

StandardIO gives a protocol this process's stdin and stdout as its transport, so the
LineReceiver that would serve a TCP client here answers whoever writes to its input:
a terminal, a pipe, a file, or a parent process (examples/processtalk.py talks to it).
Each line is a command:

    upper TEXT      answers TEXT in capitals
    reverse TEXT    answers TEXT backwards
    count           answers how many commands came so far
    quit            says bye and exits

Anything else is answered with an error line. At the end of the input (Ctrl-D on a
terminal, or the end of a file or pipe) it says bye too: the protocol is
half-closeable, so it hears that its input ended and may still write. Try
``python examples/stdiodemo.py``, or ``printf 'upper hi\\ncount\\n' | python
examples/stdiodemo.py``.
Tests: tests/examples/test_stdiodemo.py.
"""

from __future__ import annotations

import sys
from typing import Any

from zope.interface import implementer

from torsion.internet import reactor
from torsion.internet.interfaces import IHalfCloseableProtocol
from torsion.internet.stdio import StandardIO
from torsion.protocols.basic import LineReceiver


@implementer(IHalfCloseableProtocol)
class Commands(LineReceiver):
    """Answers one line per command line; stops the reactor when its input ends."""

    delimiter = b"\n"

    def __init__(self) -> None:
        self.commands = 0

    def connectionMade(self) -> None:
        """Greet (a terminal user then knows the program is ready)."""
        self.sendLine(b"ready: upper, reverse, count or quit")

    def lineReceived(self, line: bytes) -> None:
        """Run one command."""
        command, _, text = line.rstrip(b"\r").partition(b" ")
        self.commands += 1
        if command == b"upper":
            self.sendLine(text.upper())
        elif command == b"reverse":
            self.sendLine(text[::-1])
        elif command == b"count":
            self.sendLine(b"%d commands" % self.commands)
        elif command == b"quit":
            self.sendLine(b"bye")
            self.transport.loseConnection()
        else:
            self.sendLine(b"error: unknown command " + command[:40] + b"; try upper TEXT")

    def readConnectionLost(self) -> None:
        """The input ended: answer one last time, then close stdout."""
        self.sendLine(b"bye")
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        """Whoever read our output went away: there is no one left to answer."""
        self.transport.loseConnection()

    def connectionLost(self, reason: Any = None) -> None:
        """Both stdin and stdout are closed: the program is done."""
        reactor.stop()


def main() -> int:
    """Serve stdin and stdout until the input ends."""
    StandardIO(Commands())
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
