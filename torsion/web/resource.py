"""Resources: the objects a URL path is made of, one per segment.

A Site answers `/a/b` by starting at its root resource and asking it for the child
named `a` (`getChildWithDefault`), then that child for `b`, until the path is used up
or a resource says it is a leaf (`isLeaf`); the resource reached renders the response
with its `render_<METHOD>` method. Children are either registered ahead of time
(`putChild`) or made on demand (`getChild`), which is how a resource serves a whole
subtree (a directory, a database table) without one object per URL.

Tests: tests/web/test_resource.py.
"""

from __future__ import annotations

import html
from typing import Any

from zope.interface import Attribute, Interface, implementer

from torsion.web import error
from torsion.web._responses import FORBIDDEN, NOT_ALLOWED, NOT_FOUND, NOT_IMPLEMENTED

__all__ = [
    "ErrorPage",
    "ForbiddenResource",
    "IResource",
    "NoResource",
    "Resource",
    "getChildForRequest",
]


class IResource(Interface):
    """An object that answers requests for one segment of a URL path."""

    isLeaf = Attribute("True if this resource answers for every path below it itself.")

    def getChildWithDefault(name: bytes, request: Any) -> IResource:
        """The child named `name` (a registered one, else getChild's answer)."""

    def putChild(path: bytes, child: IResource) -> None:
        """Register `child` under the segment `path`."""

    def render(request: Any) -> Any:
        """The response body (bytes), server.NOT_DONE_YET, a Deferred or a coroutine."""


def _segment(path: bytes | str) -> bytes:
    if isinstance(path, str):
        return path.encode("utf-8")
    if not isinstance(path, bytes):
        raise TypeError(f"a path segment is bytes (or str), not {type(path).__name__}")
    return path


def _allowedMethods(resource: object) -> list[bytes]:
    methods = {name[7:].encode("ascii") for name in dir(resource) if name.startswith("render_")}
    if b"GET" in methods:
        methods.add(b"HEAD")
    elif getattr(type(resource), "render_HEAD", None) is Resource.render_HEAD:
        # The inherited render_HEAD answers as GET would: without render_GET it refuses.
        methods.discard(b"HEAD")
    return sorted(methods)


@implementer(IResource)
class Resource:
    """A node of the URL tree: children by name, and render_<METHOD> methods.

    Subclass it and define render_GET (render_HEAD comes from it), render_POST and so
    on; a method a resource has no render_ for is answered 405 with an Allow header.
    """

    isLeaf: bool = False
    server: Any = None
    entityType = IResource
    allowedMethods: Any

    def __init__(self) -> None:
        self.children: dict[bytes, Any] = {}

    def listStaticNames(self) -> list[bytes]:
        return list(self.children)

    def listStaticEntities(self) -> list[tuple[bytes, Any]]:
        return list(self.children.items())

    def listNames(self) -> list[bytes]:
        return self.listStaticNames()

    def listEntities(self) -> list[tuple[bytes, Any]]:
        return self.listStaticEntities()

    def getStaticEntity(self, name: bytes) -> Any:
        return self.children.get(name)

    def getDynamicEntity(self, name: bytes, request: Any) -> Any:
        if name not in self.children:
            return self.getChild(name, request)
        return None

    def delEntity(self, name: bytes) -> None:
        del self.children[name]

    def reallyPutEntity(self, name: bytes, entity: Any) -> None:
        self.children[name] = entity

    def getChild(self, path: bytes, request: Any) -> Any:
        """The child for a segment that was not registered: a 404 page unless overridden."""
        return NoResource("No such child resource.")

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        child = self.children.get(path)
        if child is not None:
            return child
        return self.getChild(path, request)

    def putChild(self, path: bytes | str, child: Any) -> None:
        """Serve `child` at the segment `path` below this resource (b"" for "/")."""
        segment = _segment(path)
        if b"/" in segment:
            raise ValueError(f"a child's name is one path segment, without '/': {segment!r}")
        self.children[segment] = child
        if hasattr(child, "server"):
            child.server = self.server

    def render(self, request: Any) -> Any:
        """Call render_<METHOD>; a method without one is refused with 405."""
        method = request.method
        handler = getattr(self, "render_" + method.decode("ascii", "replace"), None)
        if handler is None:
            try:
                allowed = self.allowedMethods
            except AttributeError:
                allowed = _allowedMethods(self)
            raise error.UnsupportedMethod(allowed)
        return handler(request)

    def render_HEAD(self, request: Any) -> Any:
        """Answer HEAD as GET; the server sends the headers and drops the body."""
        handler = getattr(self, "render_GET", None)
        if handler is None:
            raise error.UnsupportedMethod(_allowedMethods(self))
        return handler(request)


def getChildForRequest(resource: Any, request: Any) -> Any:
    """Walk from `resource` along request.postpath, moving segments to request.prepath."""
    postpath = request.postpath
    prepath = request.prepath
    while postpath and not resource.isLeaf:
        segment = postpath.pop(0)
        prepath.append(segment)
        resource = resource.getChildWithDefault(segment, request)
    return resource


class ErrorPage(Resource):
    """A page that answers every request below it with one status and a short text."""

    isLeaf = False
    template = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        "<title>{code} - {brief}</title></head>\n"
        "<body><h1>{brief}</h1>\n<p>{detail}</p>\n</body></html>\n"
    )

    def __init__(self, status: int, brief: str, detail: str) -> None:
        super().__init__()
        self.code = status
        self.brief = brief
        self.detail = detail

    def render(self, request: Any) -> bytes:
        request.setResponseCode(self.code)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        page = self.template.format(
            code=self.code, brief=html.escape(self.brief), detail=html.escape(self.detail)
        )
        return page.encode("utf-8")

    def getChild(self, path: bytes, request: Any) -> Any:
        return self


class NoResource(ErrorPage):
    """404 Not Found."""

    def __init__(self, message: str = "Sorry. No luck finding that resource.") -> None:
        super().__init__(NOT_FOUND, "No Such Resource", message)


class ForbiddenResource(ErrorPage):
    """403 Forbidden."""

    def __init__(self, message: str = "Sorry, resource is forbidden.") -> None:
        super().__init__(FORBIDDEN, "Forbidden Resource", message)


# The methods of RFC 9110 and PATCH (RFC 5789). A resource without one of these answers
# 405; a method outside them is one the server does not know: 501 (RFC 9110 section 9.1).
_KNOWN_METHODS = frozenset(
    (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH")
)


def _methodNotAllowedPage(request: Any, allowed: tuple[bytes, ...]) -> bytes:
    """The 405 answer, with its Allow header (server.Request's use); 501 for a method
    that is not a standard one."""
    if request.method not in _KNOWN_METHODS:
        method = request.method.decode("ascii", "replace")
        return ErrorPage(
            NOT_IMPLEMENTED, "Not Implemented", f"This server does not implement {method}."
        ).render(request)
    request.setResponseCode(NOT_ALLOWED)
    request.setHeader(b"allow", b", ".join(allowed))
    # ErrorPage escapes the detail for HTML itself.
    method = request.method.decode("ascii", "replace")
    names = ", ".join(m.decode("ascii", "replace") for m in allowed)
    page = ErrorPage(
        NOT_ALLOWED,
        "Method Not Allowed",
        f"The method {method} is not allowed for "
        f"{request.uri.decode('utf-8', 'replace')}. Allowed: {names}.",
    )
    return page.render(request)
