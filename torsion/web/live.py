"""Live pages: an Element whose methods the browser calls and that calls the browser back.

The successor of Nevow's LivePage/Athena, on torsion.web.template and
torsion.web.websocket. A ``LiveElement`` is an ordinary template Element with two more
powers:

- methods marked ``@expose`` may be called from the page, ``torsion.call("say",
  text)`` in JavaScript, which gives a Promise of the method's result (it may return a
  plain value, a Deferred or be a coroutine); an exception rejects the Promise with an
  Error named after the exception's type and carrying its message (the traceback is
  logged on the server, never sent);
- ``element.callRemote("show", text)`` calls the page's function ``show`` (registered
  with ``torsion.expose``) and gives a Deferred of what it returns.

``LivePage(elementFactory)`` is the resource: each GET makes a new element, renders
it (its template puts ``t:render="liveglue"`` where the client script goes, or the
script is added at the end), serves the bundled client (torsion/web/_live.js, plain
JavaScript, no build step) at ``_live.js`` below itself and the WebSocket the client
connects to at ``_live``. The protocol (torsion/web/_livewire.py) numbers every message
and keeps it until acknowledged, so when a connection drops the page reconnects, the
same element carries on, and what was sent meanwhile arrives exactly once. An element
whose page has been gone for ``pageTimeout`` seconds is discarded (its ``detached``
method is called). The guide is docs/web-live.md.

Tests: tests/web/live/ (test_live.py in memory with task.Clock, test_sockets.py over
real WebSockets, test_js.py the client under Node, test_chromium.py in a real browser).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import quote

from zope.interface import implementer

from torsion.internet import defer
from torsion.internet.defer import Deferred
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web import resource
from torsion.web._livewire import (
    CLOSE_GONE,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_REPLACED,
    SUBPROTOCOL,
    CallReceived,
    LiveChannel,
    LiveLimitError,
    LiveProtocolError,
    LiveQueueFull,
    ResultReceived,
    encodeWelcome,
    parseHello,
)
from torsion.web.iweb import IRenderable
from torsion.web.template import Element, renderElement, renderer, tags
from torsion.web.websocket import WebSocketProtocol, WebSocketResource

__all__ = [
    "LiveElement",
    "LiveError",
    "LiveLimitError",
    "LivePage",
    "LiveProtocolError",
    "LiveQueueFull",
    "PageGone",
    "RemoteError",
    "expose",
    "liveJS",
]

_log = Logger(namespace="torsion.web.live")
_F = TypeVar("_F", bound=Callable[..., Any])
_EXPOSED = "__torsion_live_exposed__"


class LiveError(Exception):
    """The base of torsion.web.live's errors."""


class PageGone(LiveError):
    """The element's page is gone (closed, or away longer than pageTimeout): nobody
    will answer a callRemote."""


class RemoteError(LiveError):
    """A function the server called in the page threw: ``errorType`` is the JavaScript
    error's name ("TypeError"), ``message`` its message."""

    def __init__(self, errorType: str, message: str) -> None:
        super().__init__(f"{errorType}: {message}")
        self.errorType = errorType
        self.message = message


def expose(function: _F) -> _F:
    """Let the page call this method of a LiveElement (``torsion.call(name, ...)``).

    Only methods marked so can be called: the page is a client like any other, so
    everything it sends is untrusted input; check the arguments as you would a form's.
    """
    setattr(function, _EXPOSED, True)
    return function


def _exposedMethod(element: LiveElement, name: str) -> Callable[..., Any] | None:
    if name.startswith("_"):
        return None
    function = getattr(type(element), name, None)
    if not getattr(function, _EXPOSED, False):
        return None
    bound: Callable[..., Any] = getattr(element, name)
    return bound


_javascript: bytes | None = None


def liveJS() -> bytes:
    """The page's client, torsion/web/_live.js (LivePage serves it at ``_live.js``;
    this is for serving it from somewhere else)."""
    global _javascript
    if _javascript is None:
        _javascript = resources.files("torsion.web").joinpath("_live.js").read_bytes()
    return _javascript


class LiveElement(Element):
    """An Element that the page can call (``@expose`` methods) and that can call the
    page (``callRemote``), made by a LivePage for each page load.

    Put ``<t:transparent t:render="liveglue"/>`` in the template's head (or
    ``tags.transparent(render="liveglue")``) where the client script goes; without it
    the script is added after the element. Override ``attached`` and ``detached`` to
    start and stop work for the page (a timer, a chat room's membership).

    Attributes:
        pageTimeout: seconds an element waits for its page to (re)connect before it
            is discarded: after a drop, or after the first render.
    """

    pageTimeout: float = 60.0
    _live: _Conversation | None = None

    @property
    def liveID(self) -> str | None:
        """The element's secret ID (the page names it when it connects), once rendered."""
        return None if self._live is None else self._live.liveID

    @property
    def isConnected(self) -> bool:
        """Whether the page is connected now (calls made meanwhile wait for it)."""
        return self._live is not None and self._live.connection is not None

    def attached(self) -> None:
        """The page connected for the first time."""

    def detached(self) -> None:
        """The element was discarded: its page closed, broke the protocol, or was
        away longer than pageTimeout. callRemote fails with PageGone from now on."""

    def callRemote(self, name: str, *args: Any) -> Deferred[Any]:
        """Call the page's function ``name(*args)`` (arguments are JSON values).

        The Deferred fires with what the function returns (or its Promise resolves
        to), or fails with RemoteError (it threw), PageGone (the page went away
        first), LiveQueueFull (too much is waiting for a page that does not keep up),
        LiveLimitError or TypeError (the arguments are too big or not JSON). While the
        page is reconnecting the call waits and is delivered once it is back.

        Raises:
            RuntimeError: the element was never rendered by a LivePage.
            ValueError: ``name`` is not 1 to 128 characters.
        """
        if self._live is None:
            raise RuntimeError(
                f"{type(self).__name__}.callRemote needs a page: serve the element with "
                "LivePage(elementFactory) and call it once the page has loaded it"
            )
        if not isinstance(name, str) or not 0 < len(name) <= 128:
            raise ValueError(f"a remote function's name is 1 to 128 characters, not {name!r}")
        return self._live.callRemote(name, args)

    @renderer
    def liveglue(self, request: Any, tag: Any) -> Any:
        """The <script> tag of the page's client, with the element's ID and endpoint."""
        if self._live is None or self._live.glued:
            return ""
        return self._live.scriptTag()


@implementer(IRenderable)
class _Glue:
    """Flattened after the element: the client script, if the template had no
    liveglue (which marks the conversation as glued when it runs)."""

    __slots__ = ("conversation",)

    def __init__(self, conversation: _Conversation) -> None:
        self.conversation = conversation

    def render(self, request: Any) -> Any:
        return "" if self.conversation.glued else self.conversation.scriptTag()

    def lookupRenderMethod(self, name: str) -> Any:
        # The script tag names no renderers; a name asked for here is the element's.
        return self.conversation.element.lookupRenderMethod(name)


class _Conversation:
    """One element and its page: the protocol state that outlives each WebSocket, the
    calls open both ways, and the pageTimeout timer."""

    __slots__ = (
        "base",
        "channel",
        "connection",
        "discarded",
        "element",
        "everAttached",
        "glued",
        "lastCall",
        "liveID",
        "page",
        "pending",
        "running",
        "timer",
        "tokens",
    )

    def __init__(self, page: LivePage, element: LiveElement, base: str) -> None:
        self.page = page
        self.element = element
        self.base = base
        self.liveID = secrets.token_urlsafe(24)
        self.channel = LiveChannel(
            maxMessageSize=page.maxMessageSize,
            maxCallsInFlight=page.maxCallsInFlight,
            maxQueuedBytes=page.maxQueuedBytes,
        )
        self.connection: _LiveSocket | None = None
        self.discarded = False
        self.everAttached = False
        self.glued = False
        self.pending: dict[int, Deferred[Any]] = {}
        self.running: dict[int, Deferred[Any]] = {}
        self.timer: Any = None
        rate = page.maxCallsPerSecond
        self.tokens = 0.0 if rate is None else 2.0 * rate
        self.lastCall = page.clock.seconds()
        self.startTimer()

    def scriptTag(self) -> Any:
        self.glued = True
        return tags.script(
            src=f"{self.base}/_live.js?v={self.page.scriptVersion}",
            **{
                "data-element": self.liveID,
                "data-endpoint": f"{self.base}/_live",
                "data-max-message-size": str(self.page.maxMessageSize),
                "data-max-calls-in-flight": str(self.page.maxCallsInFlight),
            },
        )

    # -- the page's connections ------------------------------------------------------

    def startTimer(self) -> None:
        self.timer = self.page.clock.callLater(
            self.element.pageTimeout, self.discard, "the page was away too long"
        )

    def attach(self, connection: _LiveSocket, peerAck: int) -> None:
        old = self.connection
        if old is not None:
            self.connection = None
            self.channel.detach()
            old.end(CLOSE_REPLACED, "this page reconnected on another connection")
        self.channel.resume(peerAck)
        if self.timer is not None:
            if self.timer.active():
                self.timer.cancel()
            self.timer = None
        self.connection = connection
        connection.transport.sendMessage(encodeWelcome(self.channel.lastReceived))
        self.flush()
        if not self.everAttached:
            self.everAttached = True
            try:
                self.element.attached()
            except Exception:
                _log.failure("{element!r}.attached() failed", Failure(), element=self.element)

    def detach(self, connection: _LiveSocket) -> None:
        if self.connection is not connection or self.discarded:
            return
        self.connection = None
        self.channel.detach()
        self.startTimer()

    def flush(self) -> None:
        connection = self.connection
        if connection is None:
            return
        send = connection.transport.sendMessage
        for text in self.channel.dataToSend():
            send(text)

    def discard(self, why: str) -> None:
        """Forget the element: its page will not come back (or must reload)."""
        if self.discarded:
            return
        self.discarded = True
        self.page._conversations.pop(self.liveID, None)
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        connection = self.connection
        self.connection = None
        if connection is not None:
            connection.end(CLOSE_GONE, why)
        running = list(self.running.values())
        self.running.clear()
        for d in running:
            d.cancel()
        pending = list(self.pending.values())
        self.pending.clear()
        gone = PageGone(f"the page of {self.element!r} is gone: {why}")
        for d in pending:
            d.errback(Failure(gone))
        try:
            self.element.detached()
        except Exception:
            _log.failure("{element!r}.detached() failed", Failure(), element=self.element)

    # -- calls -------------------------------------------------------------------------

    def callRemote(self, name: str, args: tuple[Any, ...]) -> Deferred[Any]:
        if self.discarded:
            return defer.fail(PageGone(f"the page of {self.element!r} is gone"))
        try:
            callID = self.channel.call(name, args)
        except (LiveLimitError, TypeError) as e:
            return defer.fail(e)

        def cancel(_: Deferred[Any]) -> None:
            self.pending.pop(callID, None)

        d: Deferred[Any] = Deferred(cancel)
        self.pending[callID] = d
        self.flush()
        return d

    def receive(self, data: str | bytes) -> None:
        for event in self.channel.receive(data):
            if isinstance(event, CallReceived):
                self.dispatch(event)
                continue
            d = self.pending.pop(event.callID, None)
            if d is None:
                continue  # cancelled by the caller
            if isinstance(event, ResultReceived):
                d.callback(event.value)
            else:
                d.errback(Failure(RemoteError(event.errorType, event.message)))
        self.flush()

    def dispatch(self, call: CallReceived) -> None:
        element = self.element
        method = _exposedMethod(element, call.name)
        if method is None:
            self.channel.fail(
                call.callID,
                "AttributeError",
                f"{type(element).__name__} has no @expose method {call.name!r}",
            )
            return
        if not self.allowCall():
            self.channel.fail(
                call.callID,
                "LiveRateLimit",
                f"more than {self.page.maxCallsPerSecond} calls a second; try again later",
            )
            return
        d = defer.maybeDeferred(method, *call.args)
        self.running[call.callID] = d
        d.addBoth(self.answer, call)

    def allowCall(self) -> bool:
        """A token bucket: maxCallsPerSecond on average, twice that in a burst."""
        rate = self.page.maxCallsPerSecond
        if rate is None:
            return True
        now = self.page.clock.seconds()
        tokens = min(2.0 * rate, self.tokens + (now - self.lastCall) * rate)
        self.lastCall = now
        if tokens < 1.0:
            self.tokens = tokens
            return False
        self.tokens = tokens - 1.0
        return True

    def answer(self, outcome: Any, call: CallReceived) -> None:
        self.running.pop(call.callID, None)
        if self.discarded:
            return
        channel = self.channel
        if isinstance(outcome, Failure):
            _log.failure(
                "The page's call of {element!r}.{name}() failed",
                outcome,
                element=self.element,
                name=call.name,
            )
            channel.fail(call.callID, outcome.type.__name__, outcome.getErrorMessage())
        else:
            try:
                channel.answer(call.callID, outcome)
            except (TypeError, LiveLimitError) as e:
                _log.failure(
                    "The result of {element!r}.{name}() cannot be sent to the page",
                    Failure(),
                    element=self.element,
                    name=call.name,
                )
                channel.fail(call.callID, type(e).__name__, str(e))
        self.flush()


def _closeReason(text: str) -> str:
    # A close frame's reason is at most 123 bytes of UTF-8.
    return text.encode("utf-8")[:120].decode("utf-8", "ignore")


class _LiveSocket(WebSocketProtocol):
    """One WebSocket of a page: its first message names the element, the rest are the
    conversation's."""

    __slots__ = ("conversation", "ended", "helloTimer", "page")

    def __init__(self, page: LivePage) -> None:
        self.page = page
        self.conversation: _Conversation | None = None
        self.ended = False
        self.helloTimer: Any = None

    def connectionMade(self) -> None:
        if self.transport.subprotocol != SUBPROTOCOL:
            self.end(
                CLOSE_PROTOCOL_ERROR,
                f"a live page's WebSocket speaks the {SUBPROTOCOL} subprotocol",
            )
            return
        self.helloTimer = self.page.clock.callLater(
            self.page.helloTimeout, self.end, CLOSE_PROTOCOL_ERROR, "no hello came"
        )

    def end(self, code: int, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.cancelHelloTimer()
        self.transport.close(code, _closeReason(reason))

    def cancelHelloTimer(self) -> None:
        timer = self.helloTimer
        self.helloTimer = None
        if timer is not None and timer.active():
            timer.cancel()

    def messageReceived(self, message: str | bytes) -> None:
        if self.ended:
            return
        conversation = self.conversation
        try:
            if conversation is None:
                hello = parseHello(message, self.page.maxMessageSize)
                self.cancelHelloTimer()
                found = self.page._conversations.get(hello.element)
                if found is None:
                    self.end(CLOSE_GONE, "the server no longer has this live page; reload the page")
                    return
                self.conversation = conversation = found
                found.attach(self, hello.ack)
            else:
                conversation.receive(message)
        except LiveProtocolError as e:
            _log.warn(
                "A live page broke the protocol ({peer}): {problem}",
                peer=self.transport.getPeer(),
                problem=str(e),
            )
            self.end(CLOSE_PROTOCOL_ERROR, str(e))
            if conversation is not None:
                conversation.discard(f"the page broke the protocol: {e}")

    def connectionLost(self, reason: Failure) -> None:
        self.ended = True
        self.cancelHelloTimer()
        if self.conversation is not None:
            self.conversation.detach(self)


class LivePage(resource.Resource):
    """The resource of a live page: a new element per GET, the client script at
    ``_live.js`` and the WebSocket at ``_live`` below it.

    Args:
        elementFactory: called with no arguments for each page load; returns the
            LiveElement to render (a class, or a lambda closing over shared state
            such as a chat room).
        clock: what pageTimeout and the other timers use (the reactor by default; a
            task.Clock in tests).
        maxMessageSize: the largest message either way, in characters.
        maxCallsInFlight: how many calls a page may have waiting for answers (the
            client holds further ones back itself).
        maxQueuedBytes: how much the server may hold for a page that does not
            acknowledge it before callRemote fails with LiveQueueFull.
        maxCallsPerSecond: how many calls of @expose methods a page may make a
            second on average (twice that in a burst); beyond it calls are rejected
            with a LiveRateLimit error, which the page may retry. None: no limit.
        maxElements: how many elements may be alive at once; beyond it a GET is
            answered 503, so page loads that never connect cannot exhaust memory.
        pingInterval: seconds between WebSocket pings, which find a page that
            vanished without closing (None: no pings).
        helloTimeout: seconds a new WebSocket has to name its element.
        allowedOrigins: passed to the WebSocketResource (None: this site's pages only).
    """

    def __init__(
        self,
        elementFactory: Callable[[], LiveElement],
        *,
        clock: Any = None,
        maxMessageSize: int = 1024 * 1024,
        maxCallsInFlight: int = 32,
        maxQueuedBytes: int = 4 * 1024 * 1024,
        maxCallsPerSecond: float | None = 100.0,
        maxElements: int = 10000,
        pingInterval: float | None = 30.0,
        helloTimeout: float = 10.0,
        allowedOrigins: Any = None,
    ) -> None:
        super().__init__()
        if not callable(elementFactory):
            raise TypeError(
                "LivePage needs a factory of LiveElements (a class or a function), "
                f"not {elementFactory!r}"
            )
        # Check the limits now, not on the first page load.
        LiveChannel(maxMessageSize=maxMessageSize, maxCallsInFlight=maxCallsInFlight)
        self.elementFactory = elementFactory
        self._clock = clock
        self.maxMessageSize = maxMessageSize
        self.maxCallsInFlight = maxCallsInFlight
        self.maxQueuedBytes = maxQueuedBytes
        self.maxCallsPerSecond = maxCallsPerSecond
        self.maxElements = maxElements
        self.helloTimeout = helloTimeout
        self._conversations: dict[str, _Conversation] = {}
        self.scriptVersion = hashlib.sha256(liveJS()).hexdigest()[:12]
        self.socketResource = WebSocketResource(
            self._buildSocket,
            subprotocols=(SUBPROTOCOL,),
            allowedOrigins=allowedOrigins,
            # Limits are in characters; UTF-8 takes up to 3 bytes for each (JSON
            # escapes the rest), so the byte limit below only stops the absurd.
            maxMessageSize=4 * maxMessageSize,
            pingInterval=pingInterval,
        )
        self.putChild(b"_live", self.socketResource)
        self.putChild(b"_live.js", _Script())

    @property
    def clock(self) -> Any:
        if self._clock is None:
            from torsion.internet import reactor

            self._clock = reactor
        return self._clock

    @property
    def elements(self) -> list[LiveElement]:
        """The elements alive now (rendered and not discarded)."""
        return [c.element for c in self._conversations.values()]

    def _buildSocket(self, request: Any) -> _LiveSocket:
        return _LiveSocket(self)

    def getChild(self, path: bytes, request: Any) -> Any:
        if path == b"":
            return self
        return super().getChild(path, request)

    def render_GET(self, request: Any) -> Any:
        if len(self._conversations) >= self.maxElements:
            return resource.ErrorPage(
                503,
                "Service Unavailable",
                "Too many live pages are open at once; try again in a minute.",
            ).render(request)
        element = self.elementFactory()
        if not isinstance(element, LiveElement):
            raise TypeError(f"LivePage's factory made {element!r}, which is not a LiveElement")
        if element._live is not None:
            raise TypeError(
                f"LivePage's factory gave {element!r} again: each page load needs a new "
                "element (pass a class or a function that makes one, not an instance)"
            )
        segments = list(request.prepath)
        while segments and segments[-1] == b"":
            segments.pop()
        base = "".join("/" + quote(segment, safe="") for segment in segments)
        conversation = _Conversation(self, element, base)
        self._conversations[conversation.liveID] = conversation
        element._live = conversation
        # Every load is a new element: a cached copy would name one long discarded.
        request.setHeader(b"cache-control", b"no-store")
        return renderElement(request, [element, _Glue(conversation)])


class _Script(resource.Resource):
    """The client script; its URL carries its hash, so it may be cached for long."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/javascript; charset=utf-8")
        request.setHeader(b"cache-control", b"public, max-age=86400")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return liveJS()
