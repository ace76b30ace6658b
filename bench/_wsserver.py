"""A WebSocket echo server for bench/websocket.py, one per side.

``python bench/_wsserver.py SIDE`` serves ws://127.0.0.1:PORT/ (a free port, printed
as "port PORT") and echoes every message, text or binary, with compression off and no
size limit that the benchmark's messages reach; it exits when its standard input
closes. ``python bench/_wsserver.py SIDE check`` prints a JSON object saying whether
the side can run here and with which versions.

Sides: torsion (the platform's default reactor), torsion-uvloop (torsion's asyncio
reactor on uvloop), websockets (the `websockets` library on asyncio), websockets-uvloop,
and twisted-autobahn (autobahn-python on Twisted's default reactor, run with
bench/.venv-twisted's interpreter, where bench/websocket.py installs both).
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

SIDES = ("torsion", "torsion-uvloop", "websockets", "websockets-uvloop", "twisted-autobahn")
LIMIT = 64 * 1024 * 1024


def exitWhenStdinCloses(stop: Any) -> None:
    def wait() -> None:
        sys.stdin.read()
        stop()

    threading.Thread(target=wait, daemon=True).start()


def serveTorsion(uvloop: bool) -> None:
    if uvloop:
        import uvloop as uv

        from torsion.internet import asyncioreactor

        asyncioreactor.install(uv.new_event_loop())
    from torsion.internet import reactor
    from torsion.web.server import Site
    from torsion.web.websocket import WebSocketProtocol, WebSocketResource

    class Echo(WebSocketProtocol):
        def messageReceived(self, message: str | bytes) -> None:
            self.transport.sendMessage(message)

    resource = WebSocketResource(lambda request: Echo(), maxMessageSize=LIMIT, compression=False)
    port = reactor.listenTCP(0, Site(resource), backlog=1024, interface="127.0.0.1")  # type: ignore[attr-defined]
    print(f"port {port.getHost().port}", flush=True)
    exitWhenStdinCloses(lambda: reactor.callFromThread(reactor.stop))  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


def serveWebsockets(uvloop: bool) -> None:
    import asyncio

    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def echo(ws: Any) -> None:
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosed:
            pass  # the load generator exits without a close handshake

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stopped = loop.create_future()
        exitWhenStdinCloses(lambda: loop.call_soon_threadsafe(stopped.set_result, None))
        async with serve(
            echo,
            "127.0.0.1",
            0,
            compression=None,
            max_size=LIMIT,
            ping_interval=None,
            backlog=1024,
        ) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            print(f"port {port}", flush=True)
            await stopped

    if uvloop:
        import uvloop as uv

        uv.run(main())
    else:
        asyncio.run(main())


def serveAutobahn() -> None:
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
    from twisted.internet import reactor

    class Echo(WebSocketServerProtocol):  # type: ignore[misc]
        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            self.sendMessage(payload, isBinary)

    factory = WebSocketServerFactory("ws://127.0.0.1")
    factory.setProtocolOptions(
        maxMessagePayloadSize=LIMIT, maxFramePayloadSize=LIMIT, perMessageCompressionAccept=None
    )
    factory.protocol = Echo
    port = reactor.listenTCP(0, factory, backlog=1024, interface="127.0.0.1")  # type: ignore[attr-defined]
    print(f"port {port.getHost().port}", flush=True)
    exitWhenStdinCloses(lambda: reactor.callFromThread(reactor.stop))  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


def check(side: str) -> dict[str, Any]:
    info: dict[str, Any] = {"ok": True, "python": sys.version.split()[0]}
    try:
        if side.endswith("uvloop"):
            import uvloop

            info["uvloop"] = uvloop.__version__
        if side.startswith("websockets"):
            import websockets

            info["websockets"] = websockets.__version__
        elif side == "twisted-autobahn":
            import autobahn
            import twisted

            info["twisted"] = twisted.__version__
            info["autobahn"] = autobahn.__version__
        else:
            import torsion

            info["torsion"] = getattr(torsion, "__version__", "?")
    except ImportError as missing:
        return {"ok": False, "reason": f"{missing.name} is not installed"}
    return info


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in SIDES:
        sys.exit(f"usage: _wsserver.py {{{','.join(SIDES)}}} [check]")
    side = argv[1]
    if len(argv) > 2 and argv[2] == "check":
        print(json.dumps(check(side)))
        return
    if side == "twisted-autobahn":
        serveAutobahn()
    elif side.startswith("torsion"):
        serveTorsion(side.endswith("uvloop"))
    else:
        serveWebsockets(side.endswith("uvloop"))


if __name__ == "__main__":
    main(sys.argv)
