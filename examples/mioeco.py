"""The seed talk's custom line echo ("eco per riga"): every line comes back, and is logged.

Run it with ``python examples/mioeco.py [--port N]`` (port 7777 on 127.0.0.1 by
default), then talk to it with ``telnet 127.0.0.1 7777`` or ``nc -C 127.0.0.1 7777``
(lines end with CR LF, as LineReceiver expects by default). The log goes to stdout,
in the seed's shapes::

    2004/04/24 17:08 CEST [-] mioeco.Fabbrica starting on 7777
    2004/04/24 17:08 CEST [EcoPerRiga,0,127.0.0.1] IPv4Address(TCP, '127.0.0.1', 49514) una riga

The protocol prints each line, as the seed's does (``print self.transport.getPeer(),
riga``): logging takes over stdout, so the print becomes the log line above, with the
connection's context; under torsiond (examples/mioeco.tac) it goes to torsiond.log.

The classes live in the module ``mioeco``, not ``__main__``, even when this file is run
as a script: the talk's point is that persisted state (and a .tac that says
``import mioeco``) must find them by a module name that stays the same.
Tests: tests/examples/test_mioeco.py.
"""

from __future__ import annotations

import argparse
import sys

from torsion.internet import protocol
from torsion.internet.error import CannotListenError
from torsion.protocols import basic
from torsion.python import log


class EcoPerRiga(basic.LineReceiver):
    """Prints who sent each line and the line, then sends the line back.

    As in the seed, it just prints: under torsiond (or after ``log.startLogging``) what
    is printed becomes a log line, with this connection's log prefix.
    """

    def lineReceived(self, riga: bytes) -> None:
        """Print the peer and the line (as text), and echo the line."""
        print(self.transport.getPeer(), riga.decode("utf-8", "replace"))
        self.sendLine(riga)


class Fabbrica(protocol.ServerFactory):
    """The factory of EcoPerRiga connections."""

    protocol = EcoPerRiga


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, listen on 127.0.0.1, and run until stopped."""
    parser = argparse.ArgumentParser(description="The seed's custom line echo server.")
    parser.add_argument("--port", type=int, default=7777, help="TCP port (0: any free port)")
    options = parser.parse_args(argv)

    from torsion.internet import reactor

    log.startLogging(sys.stdout)
    try:
        reactor.listenTCP(options.port, Fabbrica(), interface="127.0.0.1")
    except CannotListenError as e:
        # Logging has taken over sys.stderr; the user must see this on the terminal.
        print(f"mioeco: {e}", file=sys.__stderr__)
        return 1
    reactor.run()
    return 0


if __name__ == "__main__":
    # Import this file again under its module name, so the classes are mioeco.EcoPerRiga
    # and mioeco.Fabbrica rather than __main__'s (the script's folder is on sys.path).
    import mioeco

    sys.exit(mioeco.main())
