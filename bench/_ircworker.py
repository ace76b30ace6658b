"""IRC server for bench/irc.py: one side (framework and reactor) per process.

Run as ``python bench/_ircworker.py SIDE COMMAND``, where SIDE is one of ``SIDES``:

``check``
    Print one JSON line: ``{"ok": true, "reactor": ..., "versions": ...}`` if this side
    can run its words service here, else ``{"ok": false, "reason": ...}``.
``serve``
    Listen on 127.0.0.1 (a free port) with the side's ``words.service.IRCFactory`` over
    an ``InMemoryWordsRealm`` that has the group ``bench``, print ``port N``, and run
    until standard input closes, then exit at once.

Both sides get the same setup: a portal whose checker takes any password (the load
generator sends ``PASS bench``; Twisted's IRC server needs a password to log in, and
torsion's takes the same path), the group made before anyone joins (Twisted's own
``words --group`` plugin option fails at start-up), and TCP_NODELAY on every
connection (torsion's IRCUser sets it anyway; without it Twisted's replies wait for
delayed ACKs and the run would measure Nagle's algorithm, not the servers). torsion
keeps its default limits (flood control, send queue), which the closed-loop load stays
within. The code is
Twisted-style (torsion keeps Twisted's names), so one body serves both; this file
imports neither at module level, since Twisted's side runs under bench/.venv-twisted.
Tests: tests/words/test_service_bench.py (through bench/irc.py --quick).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _echoserver import Side, installReactor, raiseFileLimit

SIDES: dict[str, Side] = {
    "torsion": Side("torsion", "torsion.internet.default", None),
    "torsion-uvloop": Side("torsion", "torsion.internet.asyncioreactor", "uvloop"),
    "twisted": Side("twisted", "twisted.internet.default", None),
}
GROUP = "bench"


def describe(side: Side) -> dict[str, Any]:
    versions = {"python": platform.python_version()}
    if side.loop == "uvloop":
        import uvloop

        versions["uvloop"] = uvloop.__version__
    reactor = installReactor(side)
    framework = importlib.import_module(side.framework)
    versions[side.framework] = str(getattr(framework, "__version__", "unknown"))
    importlib.import_module(f"{side.framework}.words.service")
    return {
        "ok": True,
        "reactor": f"{type(reactor).__module__}.{type(reactor).__name__}",
        "versions": versions,
    }


def check(side: Side) -> None:
    try:
        info = describe(side)
    except Exception as e:  # Any failure to import or build means: not available here.
        info = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    print(json.dumps(info), flush=True)


def control() -> None:
    """Exit as soon as standard input closes (a daemon thread; it sleeps in read)."""
    sys.stdin.read()
    os._exit(0)


def makeFactory(framework: str) -> Any:
    service = importlib.import_module(f"{framework}.words.service")
    portal = importlib.import_module(f"{framework}.cred.portal")
    credentials = importlib.import_module(f"{framework}.cred.credentials")
    checkersModule = importlib.import_module(f"{framework}.cred.checkers")
    defer = importlib.import_module(f"{framework}.internet.defer")
    from zope.interface import implementer

    @implementer(checkersModule.ICredentialsChecker)
    class AnyPassword:
        credentialInterfaces = (credentials.IUsernamePassword,)

        def requestAvatarId(self, creds: Any) -> Any:
            return defer.succeed(creds.username)

    class Factory(service.IRCFactory):  # type: ignore[name-defined,misc]
        def buildProtocol(self, addr: Any) -> Any:
            protocol = super().buildProtocol(addr)
            original = protocol.connectionMade

            def connectionMade() -> None:
                protocol.transport.setTcpNoDelay(True)
                original()

            protocol.connectionMade = connectionMade
            return protocol

    realm = service.InMemoryWordsRealm("bench.example")
    realm.createGroup(GROUP)
    factory = Factory(realm, portal.Portal(realm, [AnyPassword()]))
    factory.noisy = False
    return factory


def serve(side: Side) -> None:
    raiseFileLimit()
    reactor = installReactor(side)
    port = reactor.listenTCP(0, makeFactory(side.framework), interface="127.0.0.1", backlog=1024)
    threading.Thread(target=control, name="control", daemon=True).start()
    print(f"port {port.getHost().port}", flush=True)
    reactor.run(installSignalHandlers=False)


def main() -> int:
    usage = f"usage: {sys.argv[0]} SIDE check|serve; SIDE is one of {', '.join(SIDES)}"
    if len(sys.argv) != 3 or sys.argv[1] not in SIDES or sys.argv[2] not in ("check", "serve"):
        raise SystemExit(usage)
    side = SIDES[sys.argv[1]]
    if sys.argv[2] == "check":
        check(side)
    else:
        serve(side)
    return 0


if __name__ == "__main__":
    sys.exit(main())
