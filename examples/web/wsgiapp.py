"""A WSGI application with no framework, for ``torsiond web --wsgi wsgiapp.application``.

Run it from this directory (torsiond looks for the module in the current one):

    torsiond -n web --wsgi wsgiapp.application --listen tcp:8080:interface=127.0.0.1

It greets, echoes a POST body, and streams a long answer line by line, to show a
generator response paced by the client.
Tests: tests/web/test_examples.py, tests/web/test_webplugin.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any


def application(environ: dict[str, Any], startResponse: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/echo" and environ["REQUEST_METHOD"] == "POST":
        body = environ["wsgi.input"].read()
        startResponse("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]
    if path == "/lines":
        startResponse("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return _lines(int(environ["QUERY_STRING"] or "10"))
    if path in ("", "/"):
        name = environ["SCRIPT_NAME"] or "/"
        startResponse("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return [f"hello from WSGI, mounted at {name}\n".encode()]
    startResponse("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"not here\n"]


def _lines(count: int) -> Iterator[bytes]:
    for n in range(count):
        yield b"line %d\n" % n
