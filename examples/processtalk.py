"""Talking to a child process: the seed's "a process I talk to directly".

It starts examples/stdiodemo.py as a child with ``reactor.spawnProcess``, sends it
one command line at a time, waits for each answer, prints the exchange, then closes
the child's stdin and reports how it ended. The ProcessProtocol here frames the
child's output into lines itself, since output arrives in arbitrary pieces.

Run it with ``python examples/processtalk.py [COMMAND ...]``, for instance
``python examples/processtalk.py "upper hello" "reverse stressed" count``.
Tests: tests/examples/test_processtalk.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torsion.internet import reactor
from torsion.internet.protocol import ProcessProtocol
from torsion.python.failure import Failure

CHILD = Path(__file__).with_name("stdiodemo.py")
DEFAULT_COMMANDS = ["upper hello, child", "reverse stressed", "count"]


class Conversation(ProcessProtocol):
    """Sends each command after the previous answer, then closes the child's input."""

    def __init__(self, commands: list[str]) -> None:
        self.pending = [command.encode() for command in commands]
        self.buffer = b""
        self.greeted = False
        self.exitCode: int | None = None

    def connectionMade(self) -> None:
        """The child runs: its pid is known."""
        print(f"started child {self.transport.pid}")

    def outReceived(self, data: bytes) -> None:
        """Frame the child's output into lines."""
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.answered(line.decode(errors="replace"))

    def answered(self, line: str) -> None:
        """One answer arrived (the first is the child's greeting): send what is next."""
        print(f"child: {line}")
        if not self.pending:
            return
        command = self.pending.pop(0)
        print(f"me:    {command.decode()}")
        self.transport.write(command + b"\n")
        if not self.pending:
            self.transport.closeStdin()  # the child says bye and exits

    def errReceived(self, data: bytes) -> None:
        """Pass the child's complaints on."""
        sys.stderr.write(data.decode(errors="replace"))

    def processEnded(self, reason: Failure) -> None:
        """The child exited and its output is all here."""
        self.exitCode = getattr(reason.value, "exitCode", None)
        print(f"child ended: {reason.value}")
        reactor.stop()


def main(argv: list[str]) -> int:
    """Talk to stdiodemo.py; exit with its exit code."""
    conversation = Conversation(argv or DEFAULT_COMMANDS)
    reactor.spawnProcess(conversation, sys.executable, [sys.executable, str(CHILD)], env=None)
    reactor.run()
    return 0 if conversation.exitCode == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
