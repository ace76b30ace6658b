"""The exceptions of torsion.web, named as Twisted names them.

`Error` carries an HTTP status (and optionally a response body) so that code deep in
a resource can abort with the status it means; `PageRedirect` is an Error for a 3xx
with a location. The client's failures (ResponseFailed and so on) live in
torsion.web._newclient.

Tests: tests/web/test_resource.py, tests/web/test_client.py.
"""

from __future__ import annotations

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
