"""HTTP servers for bench/web.py: one side (implementation) per process.

Run as ``python bench/_webserver.py --side SIDE COMMAND [--static-dir DIR]``, where
SIDE is one of ``SIDES``:

``check``
    Print one JSON line: ``{"ok": true, "server": ..., "versions": ..., "static": ...}``
    if this side can run here (``static`` is true when it can serve files, else a
    string saying why not), or ``{"ok": false, "reason": ...}``.
``serve``
    Listen on 127.0.0.1 (a free port, backlog 1024), print ``port N`` and serve until
    standard input closes, then exit at once. Every side answers ``GET /hello`` with
    ``Hello, world!`` and, given ``--static-dir``, ``GET /static/NAME`` with the file
    NAME of that directory.

The sides: ``torsion`` (torsion.web.server.Site on torsion's default reactor, the
whole Site/Request/Resource path), ``torsion-uvloop`` (the same on the asyncio
reactor over uvloop), ``twisted`` (twisted.web.server.Site, Twisted's default reactor),
``aiohttp`` (aiohttp.web on uvloop), ``uvloop`` (a bare asyncio.Protocol on uvloop
that answers every request head with a fixed response: the upper bound for Python)
and ``nginx`` (started by this script with a configuration of one worker; the
near-limit reference). The Twisted-style sides share one body of code, since torsion
keeps Twisted's names; the hello resource is the plainest one: ``isLeaf`` and a
``render_GET`` returning the bytes, a child of a plain root ``Resource``.

The driver measures CPU time and memory from /proc for this process and its children
(nginx's processes are this script's children), so the servers report nothing
themselves. This file imports neither torsion nor Twisted at module level: each runs
under its own interpreter (Twisted's and aiohttp's in venvs of their own).
Tests: tests/bench/test_web_smoke.py (through bench/web.py --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _echoserver import Side, installReactor, newLoop, raiseFileLimit

LISTEN_BACKLOG = 1024
HELLO = b"Hello, world!"

# framework, reactor module (Twisted-style sides), asyncio loop; see _echoserver.Side.
SIDES: dict[str, Side] = {
    "torsion": Side("torsion", "torsion.internet.default", None),
    "torsion-uvloop": Side("torsion", "torsion.internet.asyncioreactor", "uvloop"),
    "twisted": Side("twisted", "twisted.internet.default", None),
    "aiohttp": Side("aiohttp", None, "uvloop"),
    "uvloop": Side("asyncio", None, "uvloop"),
    "nginx": Side("nginx", None, None),
}

NGINX_HINT = "nginx is not installed: apt-get install nginx"


# -- check ------------------------------------------------------------------------------


def describe(name: str, side: Side) -> dict[str, Any]:
    """What ``check`` reports about a side that can run here (raises if it cannot)."""
    versions = {"python": platform.python_version()}
    info: dict[str, Any] = {"ok": True, "static": True}
    if side.loop == "uvloop":
        import uvloop

        versions["uvloop"] = uvloop.__version__
    if side.framework in ("torsion", "twisted"):
        framework = importlib.import_module(side.framework)
        versions[side.framework] = getattr(framework, "__version__", "?")
        importlib.import_module(f"{side.framework}.web.server")
        importlib.import_module(f"{side.framework}.web.resource")
        try:
            importlib.import_module(f"{side.framework}.web.static")
        except ImportError as e:
            info["static"] = f"{side.framework}.web.static cannot be imported ({e})"
        reactor = installReactor(side)
        info["server"] = (
            f"{side.framework}.web.server.Site on "
            f"{type(reactor).__module__}.{type(reactor).__name__}"
        )
    elif side.framework == "aiohttp":
        import aiohttp

        versions["aiohttp"] = aiohttp.__version__
        info["server"] = "aiohttp.web.AppRunner + TCPSite on uvloop"
    elif side.framework == "asyncio":
        info["server"] = "a bare asyncio.Protocol on uvloop answering a fixed response"
        info["static"] = "the bare protocol is not a file server"
    else:
        nginx = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
        if nginx is None:
            raise RuntimeError(NGINX_HINT)
        # nginx -v writes to standard error: "nginx version: nginx/1.22.1".
        version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
        versions["nginx"] = version.strip().rpartition("/")[2]
        info["server"] = "nginx, one worker process, sendfile on, access log off"
    info["versions"] = versions
    return info


def check(name: str, side: Side) -> None:
    try:
        info = describe(name, side)
    except Exception as e:  # Any failure to import or build means: not available here.
        info = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    print(json.dumps(info), flush=True)


# -- serve ------------------------------------------------------------------------------


def control(stop: Callable[[], None] | None = None) -> None:
    """Wait for standard input to close, then end the process (a daemon thread).

    It sleeps in ``read`` without the GIL, so it costs the server nothing.
    """
    sys.stdin.read()
    if stop is not None:
        stop()
    os._exit(0)  # Skip tearing down thousands of connections: the driver is done.


def serveTwistedStyle(side: Side, staticDir: Path | None) -> tuple[int, Callable[[], None]]:
    """A Site of ``side``'s web package: /hello, and /static/ when it can."""
    reactor = installReactor(side)
    server = importlib.import_module(f"{side.framework}.web.server")
    resource = importlib.import_module(f"{side.framework}.web.resource")

    class Hello(resource.Resource):  # type: ignore[name-defined,misc]
        isLeaf = True

        def render_GET(self, request: object) -> bytes:
            return HELLO

    root = resource.Resource()
    root.putChild(b"hello", Hello())
    if staticDir is not None:
        static = importlib.import_module(f"{side.framework}.web.static")
        root.putChild(b"static", static.File(str(staticDir)))
    site = server.Site(root)
    port = reactor.listenTCP(0, site, backlog=LISTEN_BACKLOG, interface="127.0.0.1")
    return port.getHost().port, lambda: reactor.run(installSignalHandlers=False)


def serveAiohttp(side: Side, staticDir: Path | None) -> tuple[int, Callable[[], None]]:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=HELLO, content_type="text/html")

    app = web.Application()
    app.router.add_get("/hello", hello)
    if staticDir is not None:
        app.router.add_static("/static", str(staticDir))
    loop = newLoop("uvloop")
    asyncio.set_event_loop(loop)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)
    loop.run_until_complete(site.start())
    port: int = runner.addresses[0][1]
    return port, loop.run_forever


class FixedResponder(asyncio.Protocol):
    """Answers each request head (up to a blank line) with one fixed response.

    No parsing beyond finding the end of each head: what is left is the cost of the
    loop, the transport and one ``write`` per request, which no HTTP server written in
    Python can go below. Request bodies are not supported (the benchmark sends none).
    """

    __slots__ = ("buffer", "transport")

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        heads = buffer.count(b"\r\n\r\n")
        if heads:
            self.transport.write(currentResponse() * heads)
            buffer = buffer[buffer.rindex(b"\r\n\r\n") + 4 :]
        self.buffer = buffer


_response = [0, b""]


def currentResponse() -> bytes:
    """The fixed response, with a Date header renewed once a second."""
    now = int(time.time())
    if now != _response[0]:
        _response[0] = now
        _response[1] = (
            b"HTTP/1.1 200 OK\r\nServer: bare-uvloop\r\nDate: "
            + formatdate(now, usegmt=True).encode("ascii")
            + b"\r\nContent-Type: text/html\r\nContent-Length: "
            + str(len(HELLO)).encode("ascii")
            + b"\r\n\r\n"
            + HELLO
        )
    return _response[1]  # type: ignore[return-value]


def serveBare(side: Side, staticDir: Path | None) -> tuple[int, Callable[[], None]]:
    loop = newLoop("uvloop")
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(FixedResponder, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)
    )
    port: int = server.sockets[0].getsockname()[1]
    return port, loop.run_forever


NGINX_CONF = """\
daemon off;
worker_processes 1;
worker_rlimit_nofile {files};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections {connections};
    use epoll;
    multi_accept on;
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog={backlog};
        location = /hello {{
            default_type text/html;
            return 200 "Hello, world!";
        }}
        {static}
    }}
}}
"""


def freePort() -> int:
    """A port nothing listens on now (nginx must be told its port in advance)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def serveNginx(side: Side, staticDir: Path | None) -> tuple[int, Callable[[], None]]:
    """Start nginx with one worker; the runner waits on it and stops it on exit."""
    nginx = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if nginx is None:
        raise SystemExit(NGINX_HINT)
    prefix = Path(tempfile.mkdtemp(prefix="torsion-bench-nginx-"))
    # The worker runs as an unprivileged user when started by root: let it in.
    prefix.chmod(0o755)
    files = raiseFileLimit()
    static = f"location /static/ {{ alias {staticDir}/; }}" if staticDir else ""
    port = freePort()
    conf = prefix / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            prefix=prefix,
            port=port,
            backlog=LISTEN_BACKLOG,
            files=files,
            connections=max(1024, files - 100),
            static=static,
        )
    )
    process = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(conf)])
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = (prefix / "error.log").read_text() if (prefix / "error.log").exists() else ""
                raise SystemExit(f"nginx did not start listening on {port}: {log}") from None
            time.sleep(0.05)

    stopping = []

    def stop() -> None:
        stopping.append(True)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(prefix, ignore_errors=True)

    def run() -> None:
        threading.Thread(target=control, args=(stop,), name="control", daemon=True).start()
        process.wait()
        if not stopping:
            raise SystemExit(f"nginx exited (status {process.returncode})")
        time.sleep(60)  # The control thread is ending the process.

    return port, run


SERVE = {
    "torsion": serveTwistedStyle,
    "twisted": serveTwistedStyle,
    "aiohttp": serveAiohttp,
    "asyncio": serveBare,
    "nginx": serveNginx,
}


def serve(side: Side, staticDir: Path | None) -> None:
    port, run = SERVE[side.framework](side, staticDir)
    if side.framework != "nginx":
        threading.Thread(target=control, name="control", daemon=True).start()
    print(f"port {port}", flush=True)
    run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", required=True, choices=sorted(SIDES))
    parser.add_argument("command", choices=["check", "serve"])
    parser.add_argument("--static-dir", type=Path, help="serve this directory at /static/")
    options = parser.parse_args()
    side = SIDES[options.side]
    raiseFileLimit()
    if options.command == "check":
        check(options.side, side)
    else:
        serve(side, options.static_dir)


if __name__ == "__main__":
    main()
