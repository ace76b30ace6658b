"""A terminal program under test, seen through a VT102 screen in memory.

`TerminalPair(factory, *args)` runs ``insults.ServerProtocol(factory, *args)`` on an
in-memory transport and feeds everything it writes to a ClientProtocol over a
TerminalBuffer, so a test types bytes (recorded from a real terminal) and reads back
the screen a user would see.
"""

from __future__ import annotations

from typing import Any

from torsion.conch.insults import helper, insults
from torsion.internet.testing import StringTransport, StringTransportWithDisconnection


def screenOf(output: bytes) -> str:
    """What a VT102 shows after ``output``: its lines, trailing blanks removed."""
    client = insults.ClientProtocol(helper.TerminalBuffer)
    client.makeConnection(StringTransport())
    client.dataReceived(output)
    return bytes(client.terminal).decode("utf-8", "replace")


class TerminalPair:
    def __init__(self, factory: Any, *args: Any) -> None:
        self.server = insults.ServerProtocol(factory, *args)
        self.wire = StringTransportWithDisconnection()
        self.wire.protocol = self.server
        self.client = insults.ClientProtocol(helper.TerminalBuffer)
        self.client.makeConnection(StringTransport())
        self.output = b""
        self.server.makeConnection(self.wire)
        self.pump()

    @property
    def program(self) -> Any:
        return self.server.terminalProtocol

    @property
    def buffer(self) -> helper.TerminalBuffer:
        return self.client.terminal  # type: ignore[no-any-return]

    def pump(self) -> None:
        written = self.wire.value()
        self.wire.clear()
        self.output += written
        self.client.dataReceived(written)

    def type(self, data: bytes) -> None:
        self.server.dataReceived(data)
        self.pump()

    @property
    def screen(self) -> str:
        return bytes(self.buffer).decode("utf-8", "replace")

    def line(self, y: int | None = None) -> str:
        """The screen's line ``y`` (the cursor's by default)."""
        lines = self.screen.split("\n")
        return lines[self.buffer.y if y is None else y]
