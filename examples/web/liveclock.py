"""A live clock with torsion.web.live: the server pushes the time to the page every second.

Run it and open http://127.0.0.1:8080/:

    python examples/web/liveclock.py [--port N]   # --port 0: any free port

Each page load is a ClockElement. Once the page connects (``attached``) a LoopingCall
calls the page's ``setTime`` function every second with ``callRemote``; the page answers
with how many ticks it has shown. While the connection is down the ticks are skipped
(a late time is no use), and when the element is discarded (``detached``) the loop
stops.

Tests: tests/web/live/test_chromium.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from torsion.internet import task
from torsion.internet.defer import Deferred
from torsion.python.failure import Failure
from torsion.web.live import LiveElement, LivePage, PageGone
from torsion.web.server import Site
from torsion.web.static import Data
from torsion.web.template import XMLString, renderer

PAGE = XMLString(
    """<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1">
<head>
  <meta charset="utf-8"/>
  <title>torsion live clock</title>
  <t:transparent t:render="liveglue"/>
  <script src="clock.js" defer="defer"></script>
</head>
<body>
  <p>The server's time is <strong id="time"><t:transparent t:render="now"/></strong>
  (<span id="ticks">0</span> pushed).</p>
</body>
</html>"""
)

CLOCK_JS = b"""
"use strict";
let ticks = 0;
torsion.expose("setTime", (text) => {
  document.getElementById("time").textContent = text;
  ticks += 1;
  document.getElementById("ticks").textContent = String(ticks);
  return ticks;
});
"""


def _now(clock: Any) -> str:
    return time.strftime("%H:%M:%S", time.localtime(clock.seconds()))


class ClockElement(LiveElement):
    """One page's clock, ticking while its page is connected."""

    loader = PAGE

    def __init__(self, clock: Any) -> None:
        super().__init__()
        self.clock = clock
        self.loop: task.LoopingCall | None = None
        self.shown = 0

    @renderer
    def now(self, request: Any, tag: Any) -> str:
        return _now(self.clock)

    def attached(self) -> None:
        self.loop = task.LoopingCall(self.tick)
        self.loop.clock = self.clock
        self.loop.start(1.0)

    def tick(self) -> None:
        if self.isConnected:
            self.callRemote("setTime", _now(self.clock)).addCallbacks(self.counted, _gone)

    def counted(self, ticks: int) -> None:
        self.shown = ticks

    def detached(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()


def _gone(failure: Failure) -> None:
    failure.trap(PageGone)


def makeResource(reactor: Any = None) -> LivePage:
    """The clock page (and its script) as one resource, ticking on ``reactor``."""
    if reactor is None:
        from torsion.internet import reactor as installed

        reactor = installed
    page = LivePage(lambda: ClockElement(reactor), clock=reactor)
    page.putChild(b"clock.js", Data(CLOCK_JS, "text/javascript; charset=utf-8"))
    return page


def main(reactor: Any, *argv: str) -> Deferred[None]:
    parser = argparse.ArgumentParser(description="serve the clock example")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    options = parser.parse_args(argv)
    port = reactor.listenTCP(options.port, Site(makeResource(reactor)), interface="127.0.0.1")
    print(f"clock on http://127.0.0.1:{port.getHost().port}/ (Ctrl-C stops it)")
    return Deferred()


if __name__ == "__main__":
    task.react(main, sys.argv[1:])
