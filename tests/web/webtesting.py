"""Helpers for torsion.web tests: a Site driven in memory, responses parsed back.

`MemorySite` connects a Site's channel to a StringTransport and a task.Clock, so a test
can send bytes, read what came back as parsed responses, and move time, with no socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.web import server
from torsion.web._http11 import END, ResponseHead, ResponseParser


@dataclass
class Response:
    code: int
    phrase: bytes
    headers: dict[bytes, list[bytes]]
    body: bytes = b""
    pieces: list[bytes] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        values = self.headers.get(name)
        return values[-1] if values else None


def parseResponses(data: bytes, methods: list[bytes] | None = None) -> list[Response]:
    """The responses in `data` (HEAD requests must be named in `methods`, in order)."""
    parser = ResponseParser()
    methods = list(methods or [])
    parser.expectResponse(methods.pop(0) if methods else b"GET")
    parser.feed(data)
    responses: list[Response] = []
    while (event := parser.next()) is not None:
        if isinstance(event, ResponseHead):
            responses.append(Response(event.code, event.phrase, event.headers))
        elif event is END:
            parser.expectResponse(methods.pop(0) if methods else b"GET")
        else:
            responses[-1].body += event
    return responses


class MemorySite:
    """One connection to `site`, in memory."""

    def __init__(
        self, root: Any = None, site: server.Site | None = None, **siteArguments: Any
    ) -> None:
        self.clock = Clock()
        self.site = site or server.Site(root, reactor=self.clock, **siteArguments)
        self.site._reactor = self.clock
        self.transport = StringTransport()
        self.channel = self.site.buildProtocol(None)
        self.channel.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        self.channel.dataReceived(data)

    def responses(self, methods: list[bytes] | None = None) -> list[Response]:
        return parseResponses(self.transport.value(), methods)

    def request(self, data: bytes, methods: list[bytes] | None = None) -> Response:
        """Send one request and return its (only) response."""
        self.transport.clear()
        self.send(data)
        (response,) = self.responses(methods)
        return response

    def get(self, path: bytes = b"/", headers: bytes = b"") -> Response:
        return self.request(
            b"GET " + path + b" HTTP/1.1\r\nHost: example.com\r\n" + headers + b"\r\n"
        )
