"""SessionLoginWrapper: a resource tree behind a login form, the avatar kept in the session.

HTTP authentication (the wrapper module) makes the browser ask for the password in its
own dialog and send it with every request. A login form is what sites usually want
instead: the user logs in once, on a page of the site's own, and the avatar the portal
returns is kept in the session (the site's cookie) until the user logs out or the
session expires.

Below the wrapper's URL:

- ``login`` (``loginPath``): GET renders the form (``LoginElement``, a template of
  torsion.web.template, replaceable); POST checks the CSRF token, logs in with
  ``portal.login(UsernamePassword(...), None, IResource)`` and, on success, starts a
  new session (so a session id planted before the login is worth nothing after it)
  and redirects (303) to the page first asked for.
- ``logout`` (``logoutPath``): GET renders a small page with a log-out button; POST
  (with the CSRF token) ends the session and calls the realm's logout.
- anything else: the avatar's resource, when logged in; otherwise a 303 to the login
  page, which sends the user back afterwards (only to a page below the wrapper, so
  the redirect cannot be pointed at another site).

A failed login is answered after ``failureDelay`` seconds (1 by default), re-showing
the form with the user name kept, with status 403; it is logged with the user name and
client address, never the password. A POST without the session's CSRF token is a 403
too, so another site cannot log a visitor in (or out) behind their back. The pages are
sent with ``Cache-Control: no-store`` and may not be framed.
Tests: tests/web/guard/test_login.py.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import quote, quote_from_bytes

from zope.interface import Interface, implementer

from torsion.cred.credentials import UsernamePassword
from torsion.cred.error import LoginFailed, Unauthorized, UnauthorizedLogin
from torsion.internet.defer import fail
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web import resource
from torsion.web._responses import FORBIDDEN, INTERNAL_SERVER_ERROR, SEE_OTHER
from torsion.web.resource import IResource
from torsion.web.server import NOT_DONE_YET
from torsion.web.template import Element, Tag, TagLoader, renderElement, renderer, tags

__all__ = ["LoginElement", "LogoutElement", "SessionLoginWrapper", "logoutForm"]

_log = Logger("torsion.web.guard")

MAX_FIELD = 1024
# What RFC 3986 allows in a URI (unreserved, reserved and '%'); a page to return to
# with anything else is not one this site made.
_URI_CHARACTERS = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)


class ISessionLogin(Interface):
    """The login state a SessionLoginWrapper keeps in a session (its component)."""


@implementer(ISessionLogin)
class _SessionLogin:
    """One session's CSRF token and, once logged in, the avatar and its logout."""

    __slots__ = ("avatar", "csrf", "logout", "logoutURL", "username")

    def __init__(self) -> None:
        self.csrf = secrets.token_urlsafe(32)
        self.avatar: Any = None
        self.logout: Any = None
        self.username = ""
        self.logoutURL = b"/logout"

    def loggedOut(self) -> None:
        logout, self.logout, self.avatar = self.logout, None, None
        if logout is not None:
            try:
                logout()
            except Exception:
                _log.failure("The realm's logout {logout!r} failed", logout=logout)


def _stateOf(session: Any) -> _SessionLogin:
    state = session.getComponent(ISessionLogin)
    if state is None:
        state = _SessionLogin()
        session.setComponent(ISessionLogin, state)
    return state  # type: ignore[no-any-return]


def _segment(value: bytes | str) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if not raw or b"/" in raw:
        raise ValueError(f"a login or logout path is one path segment, not {raw!r}")
    return raw


def _basePath(segments: list[bytes]) -> bytes:
    """The URL path of the wrapper, from the segments before it ('' at the root)."""
    return b"".join(b"/" + quote_from_bytes(s, safe="").encode("ascii") for s in segments)


def _field(request: Any, name: bytes) -> str:
    values = request.args.get(name)
    if not values or len(values[-1]) > MAX_FIELD:
        return ""
    return str(values[-1].decode("utf-8", "replace"))


def _client(request: Any) -> str:
    address = request.getClientAddress()
    return str(getattr(address, "host", address))


def _noStore(request: Any) -> None:
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"x-frame-options", b"DENY")
    request.setHeader(b"content-security-policy", b"frame-ancestors 'none'")


def _seeOther(request: Any, location: bytes) -> bytes:
    request.setResponseCode(SEE_OTHER)
    request.setHeader(b"location", location)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    return b"<!DOCTYPE html>\n<title>See Other</title><p>Redirecting.</p>\n"


class LoginElement(Element):
    """The login page. Subclass it with another ``loader`` to restyle it.

    The template's renderers: ``loginTitle`` (the title text into the tag),
    ``loginError`` (a ``<p class="login-error">`` after a failed login, else nothing)
    and ``loginForm`` (the whole ``<form>``, with its CSRF token and the page to return
    to).
    """

    loader = TagLoader(
        tags.html(lang="en")(
            tags.head(
                tags.meta(charset="utf-8"),
                tags.meta(name="viewport", content="width=device-width, initial-scale=1"),
                tags.title(render="loginTitle"),
            ),
            tags.body(
                tags.h1(render="loginTitle"),
                tags.transparent(render="loginError"),
                tags.transparent(render="loginForm"),
            ),
        )
    )

    def __init__(
        self,
        action: bytes,
        csrfToken: str,
        nextURL: bytes,
        username: str = "",
        error: str | None = None,
        title: str = "Log in",
    ) -> None:
        super().__init__()
        self.action = action
        self.csrfToken = csrfToken
        self.nextURL = nextURL
        self.username = username
        self.error = error
        self.title = title

    @renderer
    def loginTitle(self, request: Any, tag: Tag) -> Tag:
        return tag(self.title)

    @renderer
    def loginError(self, request: Any, tag: Tag) -> Any:
        if not self.error:
            return ""
        return tags.p(class_="login-error", role="alert")(self.error)

    @renderer
    def loginForm(self, request: Any, tag: Tag) -> Tag:
        return tags.form(method="post", action=self.action.decode("ascii"))(
            tags.input(type="hidden", name="csrf", value=self.csrfToken),
            tags.input(type="hidden", name="next", value=self.nextURL.decode("ascii")),
            tags.p(
                tags.label(for_="username")("User name"),
                " ",
                tags.input(
                    id="username",
                    name="username",
                    value=self.username,
                    autocomplete="username",
                    required="required",
                    autofocus="autofocus",
                ),
            ),
            tags.p(
                tags.label(for_="password")("Password"),
                " ",
                tags.input(
                    id="password",
                    name="password",
                    type="password",
                    autocomplete="current-password",
                    required="required",
                ),
            ),
            tags.p(tags.button(type="submit")("Log in")),
        )


class LogoutElement(Element):
    """The page at the logout URL: a button that logs out (a POST with the token)."""

    loader = TagLoader(
        tags.html(lang="en")(
            tags.head(tags.meta(charset="utf-8"), tags.title("Log out")),
            tags.body(tags.h1("Log out"), tags.transparent(render="logoutForm")),
        )
    )

    def __init__(self, action: bytes, csrfToken: str) -> None:
        super().__init__()
        self.action = action
        self.csrfToken = csrfToken

    @renderer
    def logoutForm(self, request: Any, tag: Tag) -> Tag:
        return _logoutTag(self.action, self.csrfToken)


def _logoutTag(action: bytes, csrfToken: str, label: str = "Log out") -> Tag:
    return tags.form(method="post", action=action.decode("ascii"), class_="logout")(
        tags.input(type="hidden", name="csrf", value=csrfToken),
        tags.button(type="submit")(label),
    )


def logoutForm(request: Any, label: str = "Log out") -> Any:
    """A ``<form>`` tag that logs the session's user out, for an avatar's own pages.

    It posts to the logout URL of the SessionLoginWrapper the user logged in through,
    with the session's CSRF token; it is empty (``""``) if nobody is logged in.
    """
    state = request.getSession().getComponent(ISessionLogin)
    if state is None or state.avatar is None:
        return ""
    return _logoutTag(state.logoutURL, state.csrf, label)


@implementer(IResource)
class SessionLoginWrapper:
    """Puts the avatars of ``portal`` behind a login form; the avatar lives in the session.

    Args:
        portal: a cred Portal checking IUsernamePassword, whose realm returns
            ``(IResource, resource, logout)``.
        loginPath, logoutPath: the segments (below the wrapper) of the two pages.
        loginElement: makes the login page: called with LoginElement's arguments
            (a LoginElement subclass with another template, say).
        failureDelay: seconds before a failed login is answered.
        title: the login page's title.
        reactor: for the delay (default: the global reactor).
    """

    isLeaf = False

    def __init__(
        self,
        portal: Any,
        *,
        loginPath: bytes | str = b"login",
        logoutPath: bytes | str = b"logout",
        loginElement: Any = LoginElement,
        failureDelay: float = 1.0,
        title: str = "Log in",
        reactor: Any = None,
    ) -> None:
        self.portal = portal
        self.loginPath = _segment(loginPath)
        self.logoutPath = _segment(logoutPath)
        if self.loginPath == self.logoutPath:
            raise ValueError("the login and logout paths must differ")
        if failureDelay < 0:
            raise ValueError(f"failureDelay must not be negative, not {failureDelay}")
        self.loginElement = loginElement
        self.failureDelay = failureDelay
        self.title = title
        self._reactor = reactor

    def putChild(self, path: bytes, child: Any) -> None:
        raise NotImplementedError(
            "SessionLoginWrapper has no children of its own: put them on the resource "
            "the portal's realm returns"
        )

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        base = _basePath(request.prepath[:-1])
        if path == self.loginPath:
            return _LoginPage(self, base)
        if path == self.logoutPath:
            return _LogoutPage(self, base)
        state = _stateOf(request.getSession())
        if state.avatar is None:
            return _ToLogin(self, base)
        avatar = state.avatar
        if avatar.isLeaf:
            request.postpath.insert(0, request.prepath.pop())
            return avatar
        return avatar.getChildWithDefault(path, request)

    def render(self, request: Any) -> Any:
        state = _stateOf(request.getSession())
        if state.avatar is None:
            return _ToLogin(self, _basePath(request.prepath)).render(request)
        return state.avatar.render(request)

    def _getReactor(self) -> Any:
        if self._reactor is None:
            from torsion.internet import reactor

            self._reactor = reactor
        return self._reactor

    def _loginURL(self, base: bytes) -> bytes:
        return base + b"/" + quote_from_bytes(self.loginPath, safe="").encode("ascii")

    def _safeNext(self, nextURL: str, base: bytes) -> bytes:
        """``nextURL`` if it is a path below the wrapper, else the wrapper's own."""
        home = base + b"/"
        raw = nextURL.encode("utf-8", "replace")
        below = raw == base or raw.startswith(home)
        if not below or raw.startswith(b"//") or not all(c in _URI_CHARACTERS for c in raw):
            return home
        return raw

    def __repr__(self) -> str:
        return f"<SessionLoginWrapper {self.portal!r}>"


class _ToLogin(resource.Resource):
    """A 303 to the login page, which will send the user back to this URL."""

    isLeaf = True

    def __init__(self, wrapper: SessionLoginWrapper, base: bytes) -> None:
        super().__init__()
        self.wrapper = wrapper
        self.base = base

    def render(self, request: Any) -> bytes:
        target = self.wrapper._loginURL(self.base)
        uri = request.uri if request.uri.startswith(b"/") else self.base + b"/"
        location = target + b"?next=" + quote(uri, safe="").encode("ascii")
        return _seeOther(request, location)


class _LoginPage(resource.Resource):
    """GET: the form; POST: the login."""

    isLeaf = True

    def __init__(self, wrapper: SessionLoginWrapper, base: bytes) -> None:
        super().__init__()
        self.wrapper = wrapper
        self.base = base

    def _page(
        self, request: Any, state: _SessionLogin, nextURL: bytes, username: str, error: str | None
    ) -> int:
        _noStore(request)
        element = self.wrapper.loginElement(
            self.wrapper._loginURL(self.base),
            state.csrf,
            nextURL,
            username,
            error,
            self.wrapper.title,
        )
        return renderElement(request, element)

    def render_GET(self, request: Any) -> int:
        state = _stateOf(request.getSession())
        nextURL = self.wrapper._safeNext(_field(request, b"next"), self.base)
        return self._page(request, state, nextURL, "", None)

    def render_POST(self, request: Any) -> Any:
        session = request.getSession()
        state = _stateOf(session)
        nextURL = self.wrapper._safeNext(_field(request, b"next"), self.base)
        if not hmac.compare_digest(_field(request, b"csrf").encode(), state.csrf.encode()):
            _log.warn(
                "Refused a login form from {client} without this session's CSRF token",
                client=_client(request),
            )
            request.setResponseCode(FORBIDDEN)
            return self._page(
                request,
                state,
                nextURL,
                "",
                "The form had expired or did not come from this site; please log in again.",
            )
        username = _field(request, b"username")
        password = request.args.get(b"password", [b""])[-1]
        rawName = request.args.get(b"username", [b""])[-1]
        if len(password) > MAX_FIELD or len(rawName) > MAX_FIELD:
            d: Any = fail(UnauthorizedLogin(f"a user name or password over {MAX_FIELD} bytes"))
        else:
            d = self.wrapper.portal.login(UsernamePassword(username, password), None, IResource)
        d.addCallbacks(
            self._loggedIn,
            self._refused,
            callbackArgs=(request, nextURL, username),
            errbackArgs=(request, nextURL, username),
        )
        return NOT_DONE_YET

    def _loggedIn(self, result: Any, request: Any, nextURL: bytes, username: str) -> None:
        _interface, avatar, logout = result
        if getattr(request, "_disconnected", False):
            _logOutNow(logout)
            return
        if not IResource.providedBy(avatar):
            _logOutNow(logout)
            self._refused(
                Failure(TypeError(f"the realm gave {avatar!r}, which is not an IResource")),
                request,
                nextURL,
                username,
            )
            return
        # A new session for the logged-in user: an id someone planted before is void.
        old = request.getSession()
        old.expire()
        if request.isSecure():
            request._secureSession = None
        else:
            request.session = None
        session = request.getSession()
        state = _stateOf(session)
        state.avatar, state.logout, state.username = avatar, logout, username
        state.logoutURL = (
            self.base + b"/" + quote_from_bytes(self.wrapper.logoutPath, safe="").encode("ascii")
        )
        session.notifyOnExpire(state.loggedOut)
        _log.info(
            "{username!r} logged in from {client}", username=username, client=_client(request)
        )
        request.write(_seeOther(request, nextURL))
        request.finish()

    def _refused(self, reason: Failure, request: Any, nextURL: bytes, username: str) -> None:
        if not reason.check(LoginFailed, Unauthorized):
            _log.failure(
                "Logging {username!r} in from {client} failed",
                reason,
                username=username,
                client=_client(request),
            )
            if not getattr(request, "_disconnected", False):
                page = resource.ErrorPage(
                    INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "An error occurred while checking the login; it has been logged.",
                )
                request.write(page.render(request))
                request.finish()
            return
        _log.warn(
            "Failed login for {username!r} from {client}",
            username=username,
            client=_client(request),
        )
        call = self.wrapper._getReactor().callLater(
            self.wrapper.failureDelay, self._answerRefusal, request, nextURL, username
        )
        request.notifyFinish().addErrback(lambda _: call.cancel() if call.active() else None)

    def _answerRefusal(self, request: Any, nextURL: bytes, username: str) -> None:
        if getattr(request, "_disconnected", False):
            return
        request.setResponseCode(FORBIDDEN)
        state = _stateOf(request.getSession())
        self._page(request, state, nextURL, username, "Invalid user name or password.")


def _logOutNow(logout: Any) -> None:
    """Log out an avatar whose client left before its login could be answered."""
    state = _SessionLogin()
    state.logout = logout
    state.loggedOut()


class _LogoutPage(resource.Resource):
    """GET: a page with the log-out button; POST (with the token): log out."""

    isLeaf = True

    def __init__(self, wrapper: SessionLoginWrapper, base: bytes) -> None:
        super().__init__()
        self.wrapper = wrapper
        self.base = base

    def _action(self) -> bytes:
        return self.base + b"/" + quote_from_bytes(self.wrapper.logoutPath, safe="").encode()

    def render_GET(self, request: Any) -> int:
        _noStore(request)
        state = _stateOf(request.getSession())
        return renderElement(request, LogoutElement(self._action(), state.csrf))

    def render_POST(self, request: Any) -> Any:
        session = request.getSession()
        state = _stateOf(session)
        if not hmac.compare_digest(_field(request, b"csrf").encode(), state.csrf.encode()):
            _log.warn(
                "Refused a logout from {client} without this session's CSRF token",
                client=_client(request),
            )
            request.setResponseCode(FORBIDDEN)
            _noStore(request)
            return renderElement(request, LogoutElement(self._action(), state.csrf))
        if state.avatar is not None:
            _log.info(
                "{username!r} logged out from {client}",
                username=state.username,
                client=_client(request),
            )
        session.expire()
        return _seeOther(request, self.wrapper._loginURL(self.base))
