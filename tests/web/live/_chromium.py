"""Headless Chromium driven over the DevTools protocol, from the reactor under test.

Chromium runs as a child process (reactor.spawnProcess) with ``--remote-debugging-pipe``:
it reads DevTools commands from its descriptor 3 and writes answers and events to
descriptor 4, each a JSON message ended by a NUL byte. That needs no debugging port
and no WebSocket client, and the reactor that serves the page also talks to the
browser, so a test runs the reactor until the page shows what it waits for, every
wait bounded. Chromium is found by tests/web/_webhelpers.py (CHROMIUM, needsChromium).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.internet.reactormixins import runUntil, runUntilFired
from tests.web._webhelpers import CHROMIUM, CHROMIUM_FLAGS
from torsion.internet import defer, protocol
from torsion.internet.defer import Deferred
from torsion.python.failure import Failure

# Chromium answers within a few seconds on a quiet machine; these bounds are for a
# loaded one (the whole suite runs beside it).
START_TIMEOUT = 30.0
WAIT_TIMEOUT = 20.0


class DevToolsError(Exception):
    """Chromium answered a command with an error, or the page's script threw."""


class _Browser(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.nextID = 0
        self.waiting: dict[int, Deferred[Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.stderr = b""
        self.ended: Deferred[None] = Deferred()
        self.exited = False

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD != 4:
            self.stderr = (self.stderr + data)[-20000:]
            return
        self.buffer += data
        while b"\0" in self.buffer:
            text, _, self.buffer = self.buffer.partition(b"\0")
            message = json.loads(text)
            d = self.waiting.pop(message.get("id", -1), None)
            if d is None:
                self.events.append(message)
            elif "error" in message:
                d.errback(Failure(DevToolsError(json.dumps(message["error"]))))
            else:
                d.callback(message.get("result", {}))

    def processEnded(self, reason: Failure) -> None:
        self.exited = True
        waiting = list(self.waiting.values())
        self.waiting.clear()
        for d in waiting:
            d.errback(Failure(DevToolsError("Chromium exited: " + self.stderr[-2000:].decode())))
        self.ended.callback(None)

    def send(
        self, method: str, params: dict[str, Any] | None = None, **extra: Any
    ) -> Deferred[Any]:
        if self.exited:
            return defer.fail(DevToolsError("Chromium is not running"))
        self.nextID += 1
        d: Deferred[Any] = Deferred()
        self.waiting[self.nextID] = d
        message = {"id": self.nextID, "method": method, "params": params or {}, **extra}
        self.transport.writeToChild(3, json.dumps(message).encode() + b"\0")
        return d


class Tab:
    """One page (DevTools target) in the browser."""

    def __init__(self, chromium: Chromium, sessionID: str) -> None:
        self.chromium = chromium
        self.sessionID = sessionID

    def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` in the page (a Promise is waited for)."""
        result = self.chromium.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            sessionId=self.sessionID,
        )
        if "exceptionDetails" in result:
            raise DevToolsError(json.dumps(result["exceptionDetails"])[:2000])
        return result["result"].get("value")

    def waitFor(self, expression: str, timeout: float = WAIT_TIMEOUT) -> Any:
        """Poll ``expression`` until it is truthy (the reactor runs meanwhile)."""
        found: list[Any] = []

        def check() -> bool:
            value = self.evaluate(expression)
            if value:
                found.append(value)
            return bool(value)

        try:
            runUntil(self.chromium.reactor, check, timeout)
        except BaseException:
            print("page at timeout:", self.evaluate("document.documentElement.outerHTML"))
            print("browser log:", self.chromium.protocol.stderr[-3000:].decode("replace"))
            raise
        return found[0]

    def text(self, elementID: str) -> str:
        return str(self.evaluate(f"document.getElementById({json.dumps(elementID)}).textContent"))


class Chromium:
    """A headless Chromium child process of ``reactor``."""

    def __init__(self, reactor: Any, profile: Path) -> None:
        assert CHROMIUM is not None
        self.reactor = reactor
        self.protocol = _Browser()
        argv = [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        environment = dict(os.environ, HOME=str(profile))
        reactor.spawnProcess(
            self.protocol,
            CHROMIUM,
            argv,
            env=environment,
            childFDs={0: "w", 1: "r", 2: "r", 3: "w", 4: "r"},
        )
        self.call("Browser.getVersion", timeout=START_TIMEOUT)

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = WAIT_TIMEOUT,
        **extra: Any,
    ) -> Any:
        return runUntilFired(self.reactor, self.protocol.send(method, params, **extra), timeout)

    def open(self, url: str) -> Tab:
        """A new tab showing ``url`` (loaded, its scripts run)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        tab = Tab(self, session["sessionId"])
        self.call("Page.enable", sessionId=tab.sessionID)
        self.call("Page.navigate", {"url": url}, sessionId=tab.sessionID)
        tab.waitFor("document.readyState === 'complete'")
        return tab

    def close(self) -> None:
        if not self.protocol.exited:
            self.protocol.send("Browser.close").addErrback(lambda _: None)
            try:
                runUntil(self.reactor, lambda: self.protocol.exited, 10)
            except BaseException:
                self.protocol.transport.signalProcess("KILL")
                runUntil(self.reactor, lambda: self.protocol.exited, 10)
