"""A torsion WebSocket echo server for external test clients (Autobahn's fuzzingclient).

Run as ``python -m tests.web.websocket.echoserver [PORT] [REACTOR]``: it serves
ws://127.0.0.1:PORT/ (port 0: a free one) and prints "listening PORT" once it does.
Every message is sent back as it came (text as text, binary as binary).

Used by tests/web/websocket/test_autobahn.py and bench/websocket.py.
"""

from __future__ import annotations

import sys

from torsion.web.websocket import WebSocketProtocol, WebSocketResource


class EchoProtocol(WebSocketProtocol):
    """Sends every message back."""

    def messageReceived(self, message: str | bytes) -> None:
        self.transport.sendMessage(message)


def main(argv: list[str]) -> None:
    port = int(argv[1]) if len(argv) > 1 else 0
    if len(argv) > 2 and argv[2] != "default":
        from torsion.internet import asyncioreactor

        if argv[2] == "uvloop":
            import uvloop

            asyncioreactor.install(uvloop.new_event_loop())
        else:
            asyncioreactor.install()
    from torsion.internet import reactor
    from torsion.web.server import Site

    site = Site(WebSocketResource(lambda request: EchoProtocol(), maxMessageSize=64 * 1024 * 1024))
    listening = reactor.listenTCP(port, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    print(f"listening {listening.getHost().port}", flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(sys.argv)
