"""Site and its Request: HTTP requests answered by a tree of resources, with sessions.

`Site(root)` is the factory to listen with. Each request it serves walks the resource
tree from `root` along the URL path (torsion.web.resource.getChildForRequest) and
renders the resource it reaches. What `render` may return:

- bytes: the whole body; it is sent with its Content-Length;
- NOT_DONE_YET: the resource writes and finishes the request itself, later;
- a Deferred or a coroutine (`async def render_GET`): the body is what it resolves
  to, and an exception becomes a 500 page.

Sessions follow a browser through a cookie (TORSION_SESSION, or
TORSION_SESSION_SECURE over TLS, which is then Secure; both HttpOnly and
SameSite=Lax). They expire after `Session.sessionTimeout` seconds unused, and a site
keeps at most `Site.maxSessions` of them (the oldest go first), so clients that never
send their cookie back cannot exhaust memory.

Tests: tests/web/test_server.py, tests/web/test_sessions.py.
"""

from __future__ import annotations

import functools
import html
import secrets
import traceback
from typing import Any
from urllib.parse import unquote_to_bytes

from zope.interface import implementer

from torsion import __version__
from torsion.internet import defer
from torsion.python import components, log
from torsion.python.failure import Failure
from torsion.web import http, resource
from torsion.web._channel import HTTPChannel
from torsion.web.error import Error, UnsupportedMethod
from torsion.web.iweb import ISession

__all__ = ["NOT_DONE_YET", "Request", "Session", "Site", "version"]

NOT_DONE_YET = 1
"""What render returns when it will write and finish the request itself."""

version = b"TorsionWeb/" + __version__.encode("ascii")


class Request(http.Request, components.Componentized):
    """A request answered by resource traversal: prepath, postpath, sessions, errors."""

    site: Any = None
    appRootURL: bytes | None = None
    session: Any = None
    _secureSession: Any = None
    prepath: list[bytes]
    postpath: list[bytes]
    sitepath: list[bytes] = []

    def __init__(self, channel: HTTPChannel, queued: object = None) -> None:
        http.Request.__init__(self, channel, queued)
        self._adapterCache: dict[str, Any] = {}  # what Componentized keeps, made cheaply
        self.prepath: list[bytes] = []

    def process(self) -> None:
        """Find the resource for the path and render it; a failure is a 500 page."""
        site = self.site = self.channel.site
        path = self.path
        if path == b"/":
            self.postpath = [b""]
        elif b"%" in path:
            self.postpath = [unquote_to_bytes(segment) for segment in path[1:].split(b"/")]
        else:
            self.postpath = path[1:].split(b"/")
        try:
            if path == b"*":
                if getattr(site.resource, "render_OPTIONS", None) is None:
                    # OPTIONS * asks about the server itself (RFC 9110 section 9.3.7);
                    # unless the root resource answers it, the answer is that it is up.
                    self.writeWhole(b"")
                else:
                    self.render(site.resource)
            else:
                self.render(site.getResourceFor(self))
        except Exception:
            self.processingFailed(Failure())

    def render(self, resrc: Any) -> None:
        """Render `resrc` and send what it returns (see the module docstring)."""
        try:
            body = resrc.render(self)
        except UnsupportedMethod as refused:
            self.writeWhole(resource._methodNotAllowedPage(self, refused.allowedMethods))
            return
        if body is NOT_DONE_YET:
            return
        if body.__class__ is bytes:
            self.writeWhole(body)
            return
        if isinstance(body, defer.Deferred) or hasattr(body, "__await__"):
            d = defer.ensureDeferred(body)
            d.addCallbacks(self._asyncBody, self._asyncFailure)
            return
        self.processingFailed(
            Failure(
                TypeError(
                    f"{type(resrc).__name__}.render returned {body!r}: a resource returns bytes, "
                    "NOT_DONE_YET, a Deferred or a coroutine"
                )
            )
        )

    def _asyncBody(self, body: Any) -> None:
        if self._disconnected:
            return
        if body is NOT_DONE_YET:
            return
        if not isinstance(body, bytes):
            self.processingFailed(
                Failure(TypeError(f"an asynchronous render resolved to {body!r}, not bytes"))
            )
            return
        self.writeWhole(body)

    def _asyncFailure(self, reason: Failure) -> None:
        self.processingFailed(reason)

    def processingFailed(self, reason: Failure) -> Failure:
        """A render failed: log the traceback, answer 500 (the traceback only if the
        site's displayTracebacks is on) or, if the response started, close."""
        refusal = reason.value if isinstance(reason.value, Error) else None
        if refusal is None or not refusal.status.startswith(b"4"):
            log.err(reason, f"Exception rendering {self.method!r} {self.uri!r}")
        if self._disconnected or self.finished:
            return reason
        if self.startedWriting:
            self.channel.transport.loseConnection()
            return reason
        if refusal is not None:
            self._answerError(refusal)
            return reason
        if self.site is not None and self.site.displayTracebacks:
            detail = (
                "<pre>" + html.escape("".join(traceback.format_exception(reason.value))) + "</pre>"
            )
        else:
            detail = "An error occurred while processing this request; it has been logged."
        self.setResponseCode(http.INTERNAL_SERVER_ERROR)
        self.responseHeaders = type(self.responseHeaders)()
        self.cookies = []
        self.setHeader(b"content-type", b"text/html; charset=utf-8")
        body = (
            "<!DOCTYPE html>\n<html><head><title>500 - Internal Server Error</title></head>"
            f"<body><h1>Internal Server Error</h1>\n<p>{detail}</p></body></html>\n"
        )
        self.writeWhole(body.encode("utf-8"))
        return reason

    def _answerError(self, refusal: Error) -> None:
        """A resource raised web.error.Error: answer with its status and body."""
        try:
            code = int(refusal.status)
        except ValueError:
            code = http.INTERNAL_SERVER_ERROR
        self.responseHeaders = type(self.responseHeaders)()
        self.setResponseCode(code, refusal.message or None)
        if refusal.response is not None:
            self.writeWhole(refusal.response)
            return
        page = resource.ErrorPage(code, refusal.message.decode("utf-8", "replace"), "")
        self.writeWhole(page.render(self))

    # -- sessions ---------------------------------------------------------------------

    def getSession(self, sessionInterface: Any = None, forceNotSecure: bool = False) -> Any:
        """This browser's session, made (with its cookie) on first use.

        With `sessionInterface`, the session's component for that interface.
        """
        secure = self.isSecure() and not forceNotSecure
        session = self._secureSession if secure else self.session
        if session is None:
            cookieName = b"TORSION_SESSION_SECURE" if secure else b"TORSION_SESSION"
            uid = self.getCookie(cookieName)
            if uid:
                session = self.site.getSession(uid, None)
            if session is None:
                session = self.site.makeSession()
                path = b"/" + b"/".join(self.sitepath)
                self.addCookie(
                    cookieName, session.uid, path=path, secure=secure, httpOnly=True, sameSite="lax"
                )
            if secure:
                self._secureSession = session
            else:
                self.session = session
        session.touch()
        if sessionInterface is not None:
            return session.getComponent(sessionInterface)
        return session

    # -- URLs --------------------------------------------------------------------------

    def prePathURL(self) -> bytes:
        return self._schemeHostPort() + b"/" + b"/".join(self.prepath)

    def rememberRootURL(self) -> None:
        """Note the URL of the resource reached so far as the application's root."""
        self.appRootURL = self.prePathURL()

    def getRootURL(self) -> bytes | None:
        return self.appRootURL

    def childLink(self, name: bytes) -> bytes:
        """A link, relative to the requested URL, to the child `name` of the resource
        being rendered (the URL's directory is what a browser resolves it against)."""
        below = len(self.postpath)
        if below > 1:
            return b"../" * (below - 1) + name
        if below == 1:
            return name
        if self.prepath and self.prepath[-1]:
            return self.prepath[-1] + b"/" + name
        return name

    def siblingLink(self, name: bytes) -> bytes:
        if self.postpath:
            return b"../" * len(self.postpath) + name
        return name


@functools.cache
def _h2Installed() -> bool:
    from torsion.web._http2 import H2_AVAILABLE

    return H2_AVAILABLE


@implementer(ISession)
class Session(components.Componentized):
    """Server-side state for one browser, kept until `sessionTimeout` seconds unused."""

    sessionTimeout = 900.0

    def __init__(self, site: Site, uid: bytes, reactor: Any = None) -> None:
        super().__init__()
        if reactor is None:
            from torsion.internet import reactor
        self._reactor = reactor
        self.site = site
        self.uid = uid
        self.expireCallbacks: list[Any] = []
        self.lastModified = reactor.seconds()
        self._expireCall: Any = None

    def startCheckingExpiration(self) -> None:
        self._expireCall = self._reactor.callLater(self.sessionTimeout, self._checkExpired)

    def _checkExpired(self) -> None:
        self._expireCall = None
        idle = self._reactor.seconds() - self.lastModified
        if idle >= self.sessionTimeout:
            self.expire()
        else:
            self._expireCall = self._reactor.callLater(
                self.sessionTimeout - idle, self._checkExpired
            )

    def notifyOnExpire(self, callback: Any) -> None:
        self.expireCallbacks.append(callback)

    def expire(self) -> None:
        """End the session: forget it and run the expiry callbacks."""
        self.site.sessions.pop(self.uid, None)
        if self._expireCall is not None and self._expireCall.active():
            self._expireCall.cancel()
        self._expireCall = None
        callbacks, self.expireCallbacks = self.expireCallbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.err(None, "Error in a session expiry callback")

    def touch(self) -> None:
        self.lastModified = self._reactor.seconds()


class Site(http.HTTPFactory):
    """An HTTP server that answers every request from a tree of resources.

    displayTracebacks shows a failing render's traceback in the 500 page: for
    development only, as it tells a stranger about your code.
    """

    requestFactory: Any = Request
    displayTracebacks = False
    sessionFactory = Session
    sessionCheckTime = 1800
    maxSessions = 100_000

    def __init__(
        self, resource: Any, requestFactory: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: dict[bytes, Session] = {}
        self.resource = resource
        if requestFactory is not None:
            self.requestFactory = requestFactory
        self._serverHeader = b"Server: " + version + b"\r\n"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.resource!r}>"

    def __getstate__(self) -> dict[str, Any]:
        # Sessions are live state (timers, a reactor): a saved site starts without them.
        state = self.__dict__.copy()
        state["sessions"] = {}
        return state

    http2: bool | None = None
    """Whether to speak HTTP/2 to clients that ask for it (ALPN "h2" or the h2c
    preface); None, the default, means yes when the h2 library is installed."""

    def buildProtocol(self, addr: Any) -> HTTPChannel:
        channel = super().buildProtocol(addr)
        channel.requestFactory = self.requestFactory
        channel.site = self
        channel.serverHeader = self._serverHeader
        channel.http2 = _h2Installed() if self.http2 is None else bool(self.http2)
        return channel

    def _mkuid(self) -> bytes:
        return secrets.token_hex(16).encode("ascii")

    def makeSession(self) -> Session:
        """A new session, registered and expiring on its own."""
        while len(self.sessions) >= self.maxSessions:
            oldest = next(iter(self.sessions.values()))
            oldest.expire()
        uid = self._mkuid()
        session = self.sessions[uid] = self.sessionFactory(self, uid, self._reactor)
        session.startCheckingExpiration()
        return session

    def getSession(self, uid: bytes, default: Any = KeyError) -> Any:
        """The session `uid`; raises KeyError if there is none (unless a default is given)."""
        session = self.sessions.get(uid)
        if session is None:
            if default is KeyError:
                raise KeyError(uid)
            return default
        return session

    def getResourceFor(self, request: Any) -> Any:
        request.site = self
        request.sitepath = request.prepath[:]
        return resource.getChildForRequest(self.resource, request)

    def getChildWithDefault(self, pathEl: bytes, request: Any) -> Any:
        return self.resource.getChildWithDefault(pathEl, request)

    def render(self, request: Any) -> Any:
        return self.resource.render(request)
