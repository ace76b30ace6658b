"""A UDP echo server (RFC 862 over UDP): every datagram goes back to its sender.

Run it with ``python examples/udpecho.py [--port N] [--interface ADDR]`` (port 8001
and 127.0.0.1 by default; ``--interface ::1`` for IPv6), then try
``nc -u 127.0.0.1 8001`` and type lines. It logs each datagram to stdout with the
port's log prefix, for example::

    2026/01/02 10:00 UTC [-] __main__.UDPEcho starting on 8001
    2026/01/02 10:00 UTC [UDPEcho (UDP)] 6 bytes from 127.0.0.1:53710

and stops cleanly, logging "(UDP Port 8001 Closed)", on Ctrl-C (SIGINT) or SIGTERM.
Tests: tests/examples/test_udpecho.py.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from torsion.internet.error import CannotListenError
from torsion.internet.protocol import DatagramProtocol
from torsion.python import log


class UDPEcho(DatagramProtocol):
    """Sends each datagram back to where it came from."""

    noisy = False

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """Log the datagram's size and sender, and send it back."""
        log.msg(f"{len(datagram)} bytes from {addr[0]}:{addr[1]}")
        self.transport.write(datagram, addr)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, listen, and run until a signal stops the reactor."""
    parser = argparse.ArgumentParser(description="A UDP echo server.")
    parser.add_argument("--port", type=int, default=8001, help="UDP port (0: any free port)")
    parser.add_argument("--interface", default="127.0.0.1", help="address to listen on")
    options = parser.parse_args(argv)

    from torsion.internet import reactor

    log.startLogging(sys.stdout)
    try:
        port = reactor.listenUDP(options.port, UDPEcho(), interface=options.interface)
    except CannotListenError as e:
        # Logging has taken over sys.stderr; the user must see this on the terminal.
        print(f"udpecho: {e}", file=sys.__stderr__)
        return 1
    host = port.getHost()
    print(f"UDP echo server listening on {host.host}:{host.port}", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
