"""A TCP echo server: every byte a client sends comes straight back.

Run it with ``python examples/echoserv.py [--port N] [--interface ADDR]`` (port 8000
and 127.0.0.1 by default), then try ``nc 127.0.0.1 8000``. It logs to stdout, prints
the address it listens on, and stops cleanly on Ctrl-C (SIGINT) or SIGTERM.
Tests: tests/examples/test_echoserv.py.
"""

from __future__ import annotations

import argparse
import sys

from torsion.internet import protocol
from torsion.internet.error import CannotListenError
from torsion.protocols.wire import Echo
from torsion.python import log


class EchoProtocol(Echo):
    """The echo protocol; its log lines carry the "[EchoProtocol,N,peer]" prefix."""

    def connectionMade(self) -> None:
        """Log each new client."""
        log.msg(f"connection from {self.transport.getPeer().host}")


class EchoFactory(protocol.ServerFactory):
    """Builds an EchoProtocol per connection."""

    protocol = EchoProtocol


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, listen, and run until a signal stops the reactor."""
    parser = argparse.ArgumentParser(description="A TCP echo server.")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port)")
    parser.add_argument("--interface", default="127.0.0.1", help="address to listen on")
    options = parser.parse_args(argv)

    from torsion.internet import reactor

    log.startLogging(sys.stdout)
    try:
        port = reactor.listenTCP(options.port, EchoFactory(), interface=options.interface)
    except CannotListenError as e:
        # Logging has taken over sys.stderr; the user must see this on the terminal.
        print(f"echoserv: {e}", file=sys.__stderr__)
        return 1
    host = port.getHost()
    print(f"Echo server listening on {host.host}:{host.port}", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
