"""Small resources every site needs: redirects, a resource that arrives later, error HTML.

- `redirectTo(url, request)` answers 302 with a Location header and a tiny page that
  links to the new place, for clients that do not follow redirects by themselves;
- `Redirect(url)` is a leaf that does that for every path below it;
  `ChildRedirector(url)` keeps the rest of the path (/old/a/b -> url/a/b);
  `ParentRedirect()` sends a client to the directory of the URL it asked for;
- `DeferredResource(d)` stands for the resource `d` will fire with (a resource loaded
  from a database, say): requests wait for it, then are rendered by it;
- `formatFailure(failure)` is a failure as HTML, every piece of it escaped.

Tests: tests/web/test_util.py.
"""

from __future__ import annotations

import html
from typing import Any

from torsion.internet import defer
from torsion.python.failure import Failure
from torsion.python.urlpath import URLPath
from torsion.web import resource
from torsion.web.server import NOT_DONE_YET

__all__ = [
    "ChildRedirector",
    "DeferredResource",
    "ParentRedirect",
    "Redirect",
    "formatFailure",
    "redirectTo",
]


def _urlBytes(url: bytes | str, what: str) -> bytes:
    if isinstance(url, str):
        return url.encode("utf-8")
    if isinstance(url, bytes):
        return url
    raise TypeError(f"{what} takes the URL as bytes (or str), not {type(url).__name__}")


def redirectTo(URL: bytes | str, request: Any) -> bytes:
    """Answer `request` with 302 Found to `URL`; returns the page to send as the body.

    The page links to `URL` (HTML-escaped, so a URL taken from user input cannot
    inject markup) for clients that show it instead of following the redirect.

    Raises:
        TypeError: if `URL` is neither bytes nor str.
        ValueError: if `URL` holds CR, LF or NUL (it could not be a header value).
    """
    url = _urlBytes(URL, "redirectTo")
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.redirect(url)
    escaped = html.escape(url.decode("utf-8", "replace"), quote=True)
    page = (
        "<!DOCTYPE html>\n<html><head>"
        f'<meta http-equiv="refresh" content="0;URL={escaped}">'
        "<title>Moved</title></head>\n"
        f'<body>This page has moved to <a href="{escaped}">{escaped}</a>.</body></html>\n'
    )
    return page.encode("utf-8")


class Redirect(resource.Resource):
    """Redirect every request for this resource, or anything below it, to one URL."""

    isLeaf = True

    def __init__(self, url: bytes | str) -> None:
        super().__init__()
        self.url = _urlBytes(url, "Redirect")

    def render(self, request: Any) -> bytes:
        return redirectTo(self.url, request)

    def getChild(self, name: bytes, request: Any) -> Any:
        return self


class ChildRedirector(Redirect):
    """Redirect to `url` plus the path below this resource: /here/a/b -> url/a/b.

    For a tree that moved elsewhere; `url` is absolute (with a scheme) or starts with
    "/" or "..", since anything else would be resolved against a different base by
    each client.
    """

    isLeaf = False

    def __init__(self, url: bytes | str) -> None:
        raw = _urlBytes(url, "ChildRedirector")
        if b"://" not in raw and not raw.startswith((b"/", b"..")):
            raise ValueError(
                f"ChildRedirector's URL {raw!r} is relative; give an absolute URL "
                "(http://host/path) or a path starting with '/' or '..'"
            )
        super().__init__(raw)

    def getChild(self, name: bytes, request: Any) -> Any:
        base = self.url if self.url.endswith(b"/") else self.url + b"/"
        return ChildRedirector(base + name)


class ParentRedirect(resource.Resource):
    """Redirect to the directory of the URL asked for, without its query: /a/b?x -> /a/."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        return redirectTo(bytes(URLPath.fromRequest(request).here()), request)

    def getChild(self, name: bytes, request: Any) -> Any:
        return self


class DeferredResource(resource.Resource):
    """A resource that `d` will fire with; requests that come first wait for it.

    Every request, before or after `d` fires, is rendered by the resource it fired
    with (traversing the rest of the request's path from there); if `d` fails, each
    request gets the 500 page and the failure is logged once per request. A request
    whose client leaves while waiting is dropped.
    """

    isLeaf = True

    def __init__(self, d: defer.Deferred[Any]) -> None:
        super().__init__()
        self.d = d
        self._arrived = False
        self._result: Any = None
        self._waiting: list[Any] = []
        d.addBoth(self._fired)

    def _fired(self, result: Any) -> Any:
        self._arrived = True
        self._result = result
        waiting, self._waiting = self._waiting, []
        for request in waiting:
            self._renderWith(request)
        # The resource stays the Deferred's result for others; a failure is ours (logged
        # with each request it fails), so it is not left to be reported as unhandled.
        return None if isinstance(result, Failure) else result

    def getChild(self, name: bytes, request: Any) -> Any:
        return self

    def render(self, request: Any) -> Any:
        if self._arrived:
            self._renderWith(request)
        else:
            self._waiting.append(request)
            request.notifyFinish().addErrback(self._left, request)
        return NOT_DONE_YET

    def _left(self, reason: Failure, request: Any) -> None:
        if request in self._waiting:
            self._waiting.remove(request)

    def _renderWith(self, request: Any) -> None:
        result = self._result
        if isinstance(result, Failure):
            request.processingFailed(result)
            return
        try:
            request.render(resource.getChildForRequest(result, request))
        except Exception:
            request.processingFailed(Failure())


def formatFailure(myFailure: Failure) -> bytes:
    """`myFailure` as an HTML fragment: the exception and its traceback, escaped.

    Every string in it (messages, file names, source lines) comes from the failure and
    so possibly from a client; all of it is escaped, so it is safe in any page.
    """
    if not isinstance(myFailure, Failure):
        raise TypeError(f"formatFailure takes a Failure, not {type(myFailure).__name__}")
    kind = getattr(myFailure.type, "__name__", str(myFailure.type))
    summary = html.escape(f"{kind}: {myFailure.getErrorMessage()}")
    traceback = html.escape(myFailure.getTraceback())
    fragment = (
        '<div class="error">\n'
        f'<p class="error-summary">{summary}</p>\n'
        f'<pre class="error-traceback">{traceback}</pre>\n'
        "</div>\n"
    )
    return fragment.encode("utf-8")
