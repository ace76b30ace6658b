"""A browser-like client of a Site in memory: cookies kept, forms filled and sent.

`FormClient` drives tests.web.webtesting.MemorySite: it remembers the session cookie
the site sets, finds the CSRF token in the last page, and sends urlencoded or
multipart bodies as a browser would, so that the form tests read like a user's visit.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from tests.web.webtesting import MemorySite, Response

BOUNDARY = b"----torsionFormBoundary7MA4YWxkTrZu0gW"


def multipartBody(
    fields: Iterable[tuple[str, str | bytes]],
    files: Iterable[tuple[str, str, str, bytes]] = (),
    boundary: bytes = BOUNDARY,
) -> bytes:
    """A multipart/form-data body: (name, value) fields, (name, filename, type, data) files."""
    out = []
    for name, value in fields:
        data = value.encode() if isinstance(value, str) else value
        out.append(
            b"--" + boundary + b"\r\n"
            b'Content-Disposition: form-data; name="'
            + name.encode()
            + b'"\r\n\r\n'
            + data
            + b"\r\n"
        )
    for name, filename, contentType, data in files:
        out.append(
            b"--" + boundary + b"\r\n"
            b'Content-Disposition: form-data; name="'
            + name.encode()
            + b'"; filename="'
            + filename.encode()
            + b'"\r\nContent-Type: '
            + contentType.encode()
            + b"\r\n\r\n"
            + data
            + b"\r\n"
        )
    out.append(b"--" + boundary + b"--\r\n")
    return b"".join(out)


class FormClient:
    """One browser visiting a site held in memory."""

    def __init__(self, root: Any = None, site: Any = None, **siteArguments: Any) -> None:
        self.memory = MemorySite(root, site=site, **siteArguments)
        self.cookies: dict[bytes, bytes] = {}
        self.lastPage = b""

    @property
    def site(self) -> Any:
        return self.memory.site

    def _cookieHeader(self) -> bytes:
        if not self.cookies:
            return b""
        return b"Cookie: " + b"; ".join(k + b"=" + v for k, v in self.cookies.items()) + b"\r\n"

    def request(self, head: bytes, body: bytes = b"") -> Response:
        self.memory.transport.clear()
        self.memory.send(head + body)
        for _ in range(10000):
            responses = self.memory.responses()
            if responses:
                break
            self.memory.clock.advance(0)
        (response,) = self.memory.responses()
        for cookie in response.headers.get(b"set-cookie", []):
            name, _, rest = cookie.partition(b"=")
            self.cookies[name] = rest.partition(b";")[0]
        self.lastPage = response.body
        return response

    def get(self, path: bytes = b"/") -> Response:
        return self.request(
            b"GET " + path + b" HTTP/1.1\r\nHost: example.com\r\n" + self._cookieHeader() + b"\r\n"
        )

    def token(self) -> str:
        match = re.search(rb'name="_csrf" value="([^"]*)"', self.lastPage)
        if match is None:
            match = re.search(rb'value="([^"]*)" name="_csrf"', self.lastPage)
        assert match is not None, f"no CSRF token in {self.lastPage[:500]!r}"
        return match.group(1).decode()

    def post(
        self,
        path: bytes,
        body: bytes,
        contentType: bytes = b"application/x-www-form-urlencoded",
        headers: bytes = b"",
    ) -> Response:
        head = (
            b"POST "
            + path
            + b" HTTP/1.1\r\nHost: example.com\r\n"
            + b"Content-Type: "
            + contentType
            + b"\r\n"
            + b"Content-Length: %d\r\n" % len(body)
            + self._cookieHeader()
            + headers
            + b"\r\n"
        )
        return self.request(head, body)

    def submit(
        self,
        path: bytes,
        fields: Sequence[tuple[str, str]] = (),
        files: Sequence[tuple[str, str, str, bytes]] = (),
        token: bool = True,
        multipart: bool | None = None,
    ) -> Response:
        """Send the form at `path` as a browser would (with the token of the last page)."""
        allFields = list(fields)
        if token:
            allFields.insert(0, ("_csrf", self.token()))
        if multipart or (multipart is None and files):
            return self.post(
                path,
                multipartBody(allFields, files),
                b"multipart/form-data; boundary=" + BOUNDARY,
            )
        return self.post(path, urllib.parse.urlencode(allFields).encode())
