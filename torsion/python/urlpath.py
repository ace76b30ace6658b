"""URLPath: an absolute URL that makes the URLs around it (child, sibling, parent, click).

Request.URLPath() returns one for the resource being rendered, so a page can link to
its neighbours without string surgery. Segments are kept percent-encoded, as on the
wire.

Tests: tests/python/test_urlpath.py.
"""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit, urlunsplit

__all__ = ["URLPath"]


def _text(value: bytes | str) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value


class URLPath:
    """scheme://netloc/path?query#fragment, with operations that return new URLPaths."""

    def __init__(
        self,
        scheme: bytes | str = b"",
        netloc: bytes | str = b"localhost",
        path: bytes | str = b"",
        query: bytes | str = b"",
        fragment: bytes | str = b"",
    ) -> None:
        self.scheme = _text(scheme) or "http"
        self.netloc = _text(netloc)
        self.path = _text(path) or "/"
        self.query = _text(query)
        self.fragment = _text(fragment)

    @classmethod
    def fromString(cls, url: str) -> URLPath:
        """Parse an absolute URL (text; non-ASCII is percent-encoded)."""
        if not isinstance(url, str):
            raise ValueError("URLPath.fromString takes text; use fromBytes for bytes")
        parts = urlsplit(quote(url, safe=":/?#[]@!$&'()*+,;=%"))
        return cls(parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment)

    @classmethod
    def fromBytes(cls, url: bytes) -> URLPath:
        if not isinstance(url, bytes):
            raise ValueError("URLPath.fromBytes takes bytes; use fromString for text")
        return cls.fromString(url.decode("ascii", "replace"))

    @classmethod
    def fromRequest(cls, request: object) -> URLPath:
        return cls.fromBytes(request.prePathURL())  # type: ignore[attr-defined]

    def pathList(self, unquote: bool = False, copy: bool = True) -> list[bytes]:
        from urllib.parse import unquote_to_bytes

        segments = [s.encode("ascii") for s in self.path.split("/")]
        return [unquote_to_bytes(s) for s in segments] if unquote else segments

    def _withPath(self, path: str, keepQuery: bool = False) -> URLPath:
        return URLPath(self.scheme, self.netloc, path, self.query if keepQuery else "")

    def sibling(self, path: bytes | str, keepQuery: bool = False) -> URLPath:
        segments = self.path.split("/")
        segments[-1] = quote(_text(path), safe="")
        return self._withPath("/".join(segments), keepQuery)

    def child(self, path: bytes | str, keepQuery: bool = False) -> URLPath:
        segments = self.path.split("/")
        if segments[-1] == "":
            segments[-1] = quote(_text(path), safe="")
        else:
            segments.append(quote(_text(path), safe=""))
        return self._withPath("/".join(segments), keepQuery)

    def parent(self, keepQuery: bool = False) -> URLPath:
        segments = [*self.path.split("/")[:-2], ""]
        return self._withPath("/".join(segments) or "/", keepQuery)

    def here(self, keepQuery: bool = False) -> URLPath:
        segments = self.path.split("/")
        segments[-1] = ""
        return self._withPath("/".join(segments), keepQuery)

    def click(self, href: bytes | str) -> URLPath:
        """The URL that following the link `href` from this page leads to."""
        target = urlsplit(urljoin(str(self), _text(href)))
        return URLPath(target.scheme, target.netloc, target.path, target.query, target.fragment)

    def __str__(self) -> str:
        return urlunsplit((self.scheme, self.netloc, self.path, self.query, self.fragment))

    def __bytes__(self) -> bytes:
        return str(self).encode("ascii")

    def __repr__(self) -> str:
        return f"URLPath(scheme={self.scheme!r}, netloc={self.netloc!r}, path={self.path!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URLPath) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))
