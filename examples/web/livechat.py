"""A live chat room with torsion.web.live: every page open on it sees what the others say.

Run it and open http://127.0.0.1:8080/ in two browser windows:

    python examples/web/livechat.py [--port N]   # --port 0: any free port

Each page load is a ChatElement. What a page says reaches the server through the
exposed method ``say``; the room pushes it to every page with ``callRemote("show",
...)``. A page whose connection drops reconnects by itself and gets what was said
meanwhile; one closed for longer than pageTimeout leaves the room.

Tests: tests/web/live/test_chromium.py (two real Chromium pages talk).
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from typing import Any

from torsion.internet import task
from torsion.internet.defer import Deferred
from torsion.python.failure import Failure
from torsion.web.live import LiveElement, LivePage, PageGone, expose
from torsion.web.server import Site
from torsion.web.static import Data
from torsion.web.template import XMLString, renderer, tags

PAGE = XMLString(
    """<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1">
<head>
  <meta charset="utf-8"/>
  <title>torsion live chat</title>
  <t:transparent t:render="liveglue"/>
  <script src="chat.js" defer="defer"></script>
</head>
<body>
  <h1>Chat</h1>
  <p>Connection: <span id="status">connecting</span></p>
  <ul id="messages"><t:transparent t:render="history"/></ul>
  <form id="say">
    <input id="name" value="guest" maxlength="40"/>
    <input id="text" autocomplete="off" maxlength="500" autofocus="autofocus"/>
    <button>Say</button>
  </form>
  <p id="error"></p>
</body>
</html>"""
)

# The page's own script: what the server may call (show), and the form.
CHAT_JS = b"""
"use strict";
const messages = document.getElementById("messages");
torsion.expose("show", (name, text) => {
  const line = document.createElement("li");
  line.textContent = `${name}: ${text}`;
  messages.append(line);
  return messages.children.length;
});
torsion.onstate((state) => {
  document.getElementById("status").textContent = state;
});
document.getElementById("status").textContent = torsion.state;
document.getElementById("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = document.getElementById("text");
  const error = document.getElementById("error");
  torsion.call("say", document.getElementById("name").value, text.value).then(
    () => { text.value = ""; error.textContent = ""; },
    (failure) => { error.textContent = failure.message; },
  );
});
"""


class ChatRoom:
    """The members (one ChatElement per open page) and the last things said."""

    def __init__(self, historySize: int = 50) -> None:
        self.members: set[ChatElement] = set()
        self.history: deque[tuple[str, str]] = deque(maxlen=historySize)

    def say(self, name: str, text: str) -> None:
        self.history.append((name, text))
        for member in list(self.members):
            member.callRemote("show", name, text).addErrback(_gone)


def _gone(failure: Failure) -> None:
    # A page that left while a message was on its way: nothing to do.
    failure.trap(PageGone)


class ChatElement(LiveElement):
    """One page of the room."""

    loader = PAGE

    def __init__(self, room: ChatRoom) -> None:
        super().__init__()
        self.room = room
        # Joining at once (not when the page connects) queues whatever is said
        # between this render and the connection, so the page misses nothing.
        room.members.add(self)

    @renderer
    def history(self, request: Any, tag: Any) -> Any:
        return [tags.li(f"{name}: {text}") for name, text in self.room.history]

    @expose
    def say(self, name: str, text: str) -> int:
        """The page says ``text`` as ``name``; the answer is the room's size."""
        if not isinstance(name, str) or not isinstance(text, str):
            raise TypeError("say(name, text) takes two strings")
        name, text = name.strip()[:40] or "guest", text.strip()
        if not text or len(text) > 500:
            raise ValueError("say something (at most 500 characters)")
        self.room.say(name, text)
        return len(self.room.members)

    def detached(self) -> None:
        self.room.members.discard(self)


def makeResource(reactor: Any = None, room: ChatRoom | None = None) -> LivePage:
    """The chat page (and its script) as one resource, its timers on ``reactor``."""
    shared = room if room is not None else ChatRoom()
    page = LivePage(lambda: ChatElement(shared), clock=reactor)
    page.putChild(b"chat.js", Data(CHAT_JS, "text/javascript; charset=utf-8"))
    return page


def main(reactor: Any, *argv: str) -> Deferred[None]:
    parser = argparse.ArgumentParser(description="serve the chat room example")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    options = parser.parse_args(argv)
    port = reactor.listenTCP(options.port, Site(makeResource(reactor)), interface="127.0.0.1")
    print(f"chat room on http://127.0.0.1:{port.getHost().port}/ (Ctrl-C stops it)")
    return Deferred()


if __name__ == "__main__":
    task.react(main, sys.argv[1:])
