"""The exceptions of torsion.web, named as Twisted names them.

`Error` carries an HTTP status (and optionally a response body) so that code deep in
a resource can abort with the status it means; `PageRedirect` is an Error for a 3xx
with a location. The client's failures (ResponseFailed and so on) live in
torsion.web._newclient.

Tests: tests/web/test_resource.py, tests/web/test_client.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from torsion.web._responses import RESPONSES

__all__ = [
    "Error",
    "InfiniteRedirection",
    "PageRedirect",
    "RedirectWithNoLocation",
    "SchemeNotSupported",
    "UnexposedMethodError",
    "UnsupportedMethod",
]


def _asBytes(value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


class Error(Exception):
    """An HTTP error: `status` (bytes, like b"404"), `message` (the reason) and `response`."""

    def __init__(
        self,
        code: bytes | str | int,
        message: bytes | str | None = None,
        response: bytes | None = None,
    ) -> None:
        self.status = _asBytes(code)
        if message is None:
            try:
                message = RESPONSES[int(self.status)]
            except (KeyError, ValueError):
                message = b""
        self.message = _asBytes(message)
        self.response = response
        super().__init__(self.status, self.message, response)

    def __str__(self) -> str:
        return f"{self.status.decode('ascii', 'replace')} {self.message.decode('utf-8', 'replace')}"


class PageRedirect(Error):
    """A redirect (3xx) to `location`."""

    def __init__(
        self,
        code: bytes | str | int,
        message: bytes | str | None = None,
        response: bytes | None = None,
        location: bytes | None = None,
    ) -> None:
        super().__init__(code, message, response)
        self.location = location

    def __str__(self) -> str:
        text = super().__str__()
        if self.location:
            text += f" to {self.location.decode('utf-8', 'replace')}"
        return text


class InfiniteRedirection(PageRedirect):
    """A client gave up following redirects (a loop or too many hops)."""


class RedirectWithNoLocation(PageRedirect):
    """A 3xx response without a Location header."""

    def __init__(self, code: bytes | str | int, message: bytes | str, uri: bytes) -> None:
        super().__init__(code, message)
        self.uri = uri


class UnsupportedMethod(Exception):
    """A resource does not render this method; `allowedMethods` lists those it does."""

    def __init__(self, allowedMethods: list[bytes] | tuple[bytes, ...]) -> None:
        super().__init__(allowedMethods)
        self.allowedMethods = tuple(allowedMethods)


class UnexposedMethodError(Exception):
    """A method name was asked for that the object does not expose."""


class SchemeNotSupported(Exception):
    """A client was asked for a URL scheme it does not speak (only http and https)."""


# -- templates (torsion.web.template) -------------------------------------------------

__all__ += [
    "FlattenerError",
    "MissingRenderMethod",
    "MissingTemplateLoader",
    "RenderError",
    "UnfilledSlot",
    "UnsupportedType",
]


class RenderError(Exception):
    """A template could not be rendered (the base of the template errors below)."""


class MissingRenderMethod(RenderError):
    """A tag asked for a renderer that its Element does not have (or did not mark with
    ``@renderer``)."""

    def __init__(self, element: object, renderName: str) -> None:
        super().__init__(element, renderName)
        self.element = element
        self.renderName = renderName

    def __str__(self) -> str:
        return (
            f"{self.element!r} has no renderer named {self.renderName!r}; define a method "
            f"of that name decorated with @renderer, or fix the template's render name"
        )


class MissingTemplateLoader(RenderError):
    """An Element was rendered without a loader (set ``loader`` on its class or pass one)."""

    def __init__(self, element: object) -> None:
        super().__init__(element)
        self.element = element

    def __str__(self) -> str:
        return (
            f"{self.element!r} has no template loader; give its class a loader "
            f"(XMLFile, XMLString, TagLoader) or pass loader= to Element()"
        )


class UnfilledSlot(Exception):
    """A slot was rendered that no enclosing tag filled and that has no default."""

    def __str__(self) -> str:
        name = self.args[0] if self.args else "?"
        return (
            f"slot {name!r} was not filled; call fillSlots({name}=...) on a tag above it "
            f"or give the slot a default"
        )


class UnsupportedType(Exception):
    """An object in a page tree that the flattener cannot write (an int, say)."""

    def __str__(self) -> str:
        value = self.args[0] if self.args else None
        return (
            f"cannot flatten {value!r} (of type {type(value).__name__}); a page tree holds "
            f"str, bytes, Tag, slot, Element, Comment, CDATA, CharRef, raw, lists, "
            f"generators, Deferreds or coroutines: convert it with str() first"
        )


class FlattenerError(Exception):
    """Rendering a page failed: the original exception, and where in the tree it was.

    ``_exception`` is the error, ``_roots`` the path of objects from the root of the
    tree down to the one that failed, ``_traceback`` the frames (as
    traceback.extract_tb gives them) where it was raised.
    """

    def __init__(
        self, exception: BaseException, roots: list[object], traceback: Sequence[object]
    ) -> None:
        super().__init__(exception, roots, traceback)
        self._exception = exception
        self._roots = roots
        self._traceback = traceback

    def _formatRoot(self, root: object) -> str:
        text = repr(root)
        if len(text) > 80:
            text = text[:77] + "..."
        return text

    def __repr__(self) -> str:
        lines = [f"Exception while flattening: {self._exception!r}"]
        roots = self._roots
        if len(roots) > 20:
            # A very deep tree: the top and the bottom of the path say enough.
            lines.extend("  " + self._formatRoot(root) for root in roots[:5])
            lines.append(f"  ... {len(roots) - 15} more ...")
            roots = roots[-10:]
        lines.extend("  " + self._formatRoot(root) for root in roots)
        return "\n".join(lines)

    __str__ = __repr__
