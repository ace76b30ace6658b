"""torsion.web.wsgi: WSGI applications behind a real Site on 127.0.0.1.

The reactor runs in the test's thread; the client (http.client or a raw socket) runs
in a worker thread, and the applications on a thread pool of their own, so three
threads meet as they do in production. Each wait is bounded. The applications are
hand-written, wrapped in wsgiref.validate's validator (which asserts that both the
server and the application keep to PEP 3333), or Flask's.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from wsgiref.validate import validator

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import inThread, runUntil
from torsion.internet.default import reactorClass
from torsion.python.threadpool import ThreadPool
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.wsgi import WSGIResource

oneReactor = reactormixins.oneReactor

reactor = reactormixins.reactor
T = TypeVar("T")
Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], None]]


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    made = ThreadPool(0, 4, "wsgi-test")
    made.start()
    try:
        yield made
    finally:
        made.stop()


def serve(reactor: Any, pool: ThreadPool, app: Any, mount: bytes | None = None) -> int:
    """Listen on 127.0.0.1 with `app` at the root, or at /`mount`; return the port."""
    wsgi = WSGIResource(reactor, pool, app)
    root: Any = wsgi
    if mount is not None:
        root = Resource()
        root.putChild(mount, wsgi)
    port = reactor.listenTCP(0, Site(root, reactor=reactor), interface="127.0.0.1")
    return int(port.getHost().port)


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def fetch(
    reactor: Any,
    port: int,
    path: str = "/",
    method: str = "GET",
    body: bytes | Iterable[bytes] | None = None,
    headers: dict[str, str] | None = None,
    chunked: bool = False,
) -> Response:
    def get() -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(
                method, path, body=body, headers=headers or {}, encode_chunked=chunked
            )
            answer = connection.getresponse()
            return Response(answer.status, answer.headers, answer.read())
        finally:
            connection.close()

    return inThread(reactor, get)


def rawExchange(reactor: Any, port: int, request: bytes) -> bytes:
    """Send `request` on a raw socket and read until the server closes."""

    def exchange() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(request)
            got = b""
            while chunk := client.recv(65536):
                got += chunk
            return got

    return inThread(reactor, exchange)


def hello(environ: Environ, startResponse: StartResponse) -> list[bytes]:
    startResponse("200 OK", [("Content-Type", "text/plain")])
    return [b"hello, ", b"wsgi"]


def environApp(environ: Environ, startResponse: StartResponse) -> list[bytes]:
    seen = {
        key: value for key, value in environ.items() if isinstance(value, (str, bool, int, tuple))
    }
    seen["body"] = environ["wsgi.input"].read().decode("latin-1")
    seen["thread"] = threading.current_thread().name
    startResponse("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode("ascii")]


# -- the environ -----------------------------------------------------------------------


def test_helloOnEveryReactor(reactor: Any, pool: ThreadPool) -> None:
    port = serve(reactor, pool, hello)
    answer = fetch(reactor, port)
    assert (answer.status, answer.body) == (200, b"hello, wsgi")
    assert answer.headers["Content-Type"] == "text/plain"


def test_environUnderAPrefix(oneReactor: Any, pool: ThreadPool) -> None:
    port = serve(oneReactor, pool, environApp, mount=b"app")
    answer = fetch(
        oneReactor,
        port,
        "/app/a%20b/c?x=1&y=%C3%A9",
        headers={"X-Custom": "one", "X_Sneaky": "spoofed", "Cookie": "a=1"},
    )
    seen = json.loads(answer.body)
    assert seen["REQUEST_METHOD"] == "GET"
    assert seen["SCRIPT_NAME"] == "/app"
    assert seen["PATH_INFO"] == "/a b/c"
    assert seen["QUERY_STRING"] == "x=1&y=%C3%A9"
    assert seen["SERVER_NAME"] == "127.0.0.1"
    assert seen["SERVER_PORT"] == str(port)
    assert seen["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["HTTP_X_CUSTOM"] == "one"
    assert seen["HTTP_COOKIE"] == "a=1"
    assert seen["HTTP_HOST"] == f"127.0.0.1:{port}"
    assert "HTTP_X_SNEAKY" not in seen
    assert (seen["CONTENT_TYPE"], seen["CONTENT_LENGTH"], seen["body"]) == ("", "", "")
    assert seen["wsgi.version"] == [1, 0]
    assert seen["wsgi.url_scheme"] == "http"
    assert (seen["wsgi.multithread"], seen["wsgi.multiprocess"], seen["wsgi.run_once"]) == (
        True,
        False,
        False,
    )
    assert seen["wsgi.input_terminated"] is True
    assert seen["thread"].startswith("wsgi-test")


def test_rootPathsAndNonAsciiSegments(oneReactor: Any, pool: ThreadPool) -> None:
    port = serve(oneReactor, pool, environApp)
    seen = json.loads(fetch(oneReactor, port, "/").body)
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("", "/")
    seen = json.loads(fetch(oneReactor, port, "/caf%C3%A9/").body)
    # PEP 3333: the unquoted bytes, decoded as ISO-8859-1.
    assert seen["PATH_INFO"] == "/caf\u00c3\u00a9/"
    mounted = serve(oneReactor, pool, environApp, mount=b"app")
    seen = json.loads(fetch(oneReactor, mounted, "/app").body)
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/app", "")


def test_requestBody(oneReactor: Any, pool: ThreadPool) -> None:
    port = serve(oneReactor, pool, environApp)
    answer = fetch(
        oneReactor,
        port,
        "/form",
        method="POST",
        body=b"name=torsion",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    seen = json.loads(answer.body)
    assert seen["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert (seen["CONTENT_LENGTH"], seen["body"]) == ("12", "name=torsion")
    assert "HTTP_CONTENT_TYPE" not in seen and "HTTP_CONTENT_LENGTH" not in seen


def test_chunkedUploadHasItsLength(oneReactor: Any, pool: ThreadPool) -> None:
    port = serve(oneReactor, pool, environApp)
    answer = fetch(
        oneReactor, port, "/up", method="PUT", body=iter([b"abc", b"defg"]), chunked=True
    )
    seen = json.loads(answer.body)
    assert seen["HTTP_TRANSFER_ENCODING"] == "chunked"
    assert (seen["CONTENT_LENGTH"], seen["body"]) == ("7", "abcdefg")


def test_inputIsAFileForEachRequest(oneReactor: Any, pool: ThreadPool) -> None:
    inputs: list[Any] = []

    def app(environ: Environ, startResponse: StartResponse) -> list[bytes]:
        stream = environ["wsgi.input"]
        inputs.append(stream)
        lines = [stream.readline(), stream.readline(2), *stream.readlines()]
        startResponse("200 OK", [])
        return [repr(lines).encode()]

    port = serve(oneReactor, pool, app)
    answer = fetch(oneReactor, port, "/", method="POST", body=b"one\ntwo\nthree\n")
    assert answer.body == b"[b'one\\n', b'tw', b'o\\n', b'three\\n']"
    fetch(oneReactor, port)
    fetch(oneReactor, port)
    assert inputs[1] is not inputs[2]


def test_errorsGoToTheLog(oneReactor: Any, pool: ThreadPool, logged: list[Any]) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> list[bytes]:
        errors = environ["wsgi.errors"]
        errors.write("first line\nsecond ")
        errors.writelines(["part\n", "unfinished"])
        with pytest.raises(TypeError, match="text stream"):
            errors.write(b"bytes")
        startResponse("200 OK", [])
        return []

    port = serve(oneReactor, pool, app)
    assert fetch(oneReactor, port).status == 200
    texts = [e["text"] for e in logged if e.get("log_namespace") == "torsion.web.wsgi"]
    assert texts == ["first line", "second part", "unfinished"]


# -- start_response, write and the iterable --------------------------------------------


def test_writeCallableThenIterable(oneReactor: Any, pool: ThreadPool) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> Iterator[bytes]:
        write = startResponse("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"")
        yield b"then "
        yield b"iterated"

    port = serve(oneReactor, pool, app)
    answer = fetch(oneReactor, port)
    assert answer.body == b"written then iterated"
    assert answer.headers["Transfer-Encoding"] == "chunked"


def test_oneChunkBodyHasAContentLength(oneReactor: Any, pool: ThreadPool) -> None:
    port = serve(oneReactor, pool, hello)
    single = serve(oneReactor, pool, lambda e, s: (s("200 OK", []), [b"only"])[1])
    answer = fetch(oneReactor, single)
    assert (answer.body, answer.headers["Content-Length"]) == (b"only", "4")
    assert answer.headers["Transfer-Encoding"] is None
    assert answer.headers["Content-Type"] is None  # no default type is invented
    assert fetch(oneReactor, port).headers["Transfer-Encoding"] == "chunked"


def test_declaredContentLengthIsKept(oneReactor: Any, pool: ThreadPool) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> Iterator[bytes]:
        startResponse("200 OK", [("Content-Length", "6")])
        yield b"abc"
        yield b"def"

    port = serve(oneReactor, pool, app)
    answer = fetch(oneReactor, port)
    assert (answer.body, answer.headers["Content-Length"]) == (b"abcdef", "6")
    assert answer.headers["Transfer-Encoding"] is None


def test_emptyBody(oneReactor: Any, pool: ThreadPool) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> Iterator[bytes]:
        startResponse("204 No Content", [("X-Done", "yes")])
        yield b""

    port = serve(oneReactor, pool, app)
    answer = fetch(oneReactor, port)
    assert (answer.status, answer.body, answer.headers["X-Done"]) == (204, b"", "yes")


def test_headRequestSendsNoBody(oneReactor: Any, pool: ThreadPool) -> None:
    port = serve(oneReactor, pool, hello)
    raw = rawExchange(oneReactor, port, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b""


def test_headersWaitForTheFirstNonEmptyChunk(oneReactor: Any, pool: ThreadPool) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> Iterator[bytes]:
        startResponse("200 OK", [("X-First", "1")])
        yield b""
        try:
            raise KeyError("late trouble")
        except KeyError:
            import sys

            startResponse("503 Service Unavailable", [("X-Second", "2")], sys.exc_info())
        yield b"replaced"

    port = serve(oneReactor, pool, app)
    answer = fetch(oneReactor, port)
    assert (answer.status, answer.body) == (503, b"replaced")
    assert (answer.headers["X-First"], answer.headers["X-Second"]) == (None, "2")


def test_excInfoAfterHeadersSentIsReraised(
    oneReactor: Any, pool: ThreadPool, logged: list[Any]
) -> None:
    reraised: list[BaseException] = []

    def app(environ: Environ, startResponse: StartResponse) -> Iterator[bytes]:
        startResponse("200 OK", [])
        yield b"part of the body"
        try:
            raise ZeroDivisionError("in the middle")
        except ZeroDivisionError as e:
            import sys

            try:
                startResponse("500 Oops", [], sys.exc_info())
            except ZeroDivisionError as again:
                reraised.append(again)
                assert again is e
                raise

    port = serve(oneReactor, pool, app)
    raw = rawExchange(oneReactor, port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK") and b"part of the body" in raw
    assert not raw.endswith(b"0\r\n\r\n")  # closed, not a complete chunked body
    assert len(reraised) == 1
    runUntil(oneReactor, lambda: failuresOf(logged, ZeroDivisionError))


def failuresOf(logged: list[dict[str, Any]], kind: type[BaseException]) -> list[Any]:
    return [
        e["log_failure"]
        for e in logged
        if e.get("log_failure") is not None and e["log_failure"].check(kind)
    ]


def test_startResponseTwiceIsAnError(oneReactor: Any, pool: ThreadPool, logged: list[Any]) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> list[bytes]:
        startResponse("200 OK", [])
        startResponse("201 Created", [])
        return []

    port = serve(oneReactor, pool, app)
    assert fetch(oneReactor, port).status == 500
    (failure,) = failuresOf(logged, RuntimeError)
    assert "second time without exc_info" in str(failure.value)


def test_noStartResponseIsAnError(oneReactor: Any, pool: ThreadPool, logged: list[Any]) -> None:
    port = serve(oneReactor, pool, lambda environ, startResponse: [b"forgot"])
    assert fetch(oneReactor, port).status == 500
    (failure,) = failuresOf(logged, RuntimeError)
    assert "before calling start_response" in str(failure.value)


@pytest.mark.parametrize(
    ("status", "headers", "kind", "words"),
    [
        (b"200 OK", [], TypeError, "native str"),
        ("200", [], ValueError, "three-digit code"),
        ("20 OK", [], ValueError, "three-digit code"),
        ("200 OK\r\nX-Injected: 1", [], ValueError, "control character"),
        ("200 \u2603", [], ValueError, "ISO-8859-1"),
        ("200 OK", ("X", "1"), TypeError, "list of"),
        ("200 OK", [("X", "1", "2")], TypeError, "tuple"),
        ("200 OK", [("X", b"1")], TypeError, "native str"),
        ("200 OK", [("Bad Name", "1")], ValueError, "not an HTTP token"),
        ("200 OK", [("X-A", "1\r\nSet-Cookie: evil=1")], ValueError, "CR, LF or NUL"),
        ("200 OK", [("X-A", "snow\u2603")], ValueError, "outside ISO-8859-1"),
        ("200 OK", [("Transfer-Encoding", "chunked")], ValueError, "hop-by-hop"),
        ("200 OK", [("Content-Length", "ten")], ValueError, "not a number"),
        ("200 OK", [("Content-Length", "-1")], ValueError, "negative"),
    ],
)
def test_badStatusOrHeadersAreRefused(
    oneReactor: Any,
    pool: ThreadPool,
    logged: list[Any],
    status: Any,
    headers: Any,
    kind: type[Exception],
    words: str,
) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> list[bytes]:
        startResponse(status, headers)
        return [b"never sent"]

    port = serve(oneReactor, pool, app)
    raw = rawExchange(oneReactor, port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 500 Internal Server Error")
    assert b"X-Injected" not in raw and b"evil" not in raw and b"never sent" not in raw
    (failure,) = failuresOf(logged, kind)
    assert words in str(failure.value)


def test_latin1HeaderValuesAndConnectionClose(oneReactor: Any, pool: ThreadPool) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> list[bytes]:
        startResponse("200 Très bien", [("X-Name", "café"), ("Connection", "close")])
        return [b"ok"]

    port = serve(oneReactor, pool, app)
    raw = rawExchange(oneReactor, port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith("HTTP/1.1 200 Très bien\r\n".encode("latin-1"))
    assert "X-Name: café\r\n".encode("latin-1") in raw


def test_nonBytesChunkIsAnError(oneReactor: Any, pool: ThreadPool, logged: list[Any]) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> Iterator[Any]:
        startResponse("200 OK", [])
        yield "text"

    port = serve(oneReactor, pool, app)
    assert fetch(oneReactor, port).status == 500
    (failure,) = failuresOf(logged, TypeError)
    assert "encode text" in str(failure.value)


class Body:
    """An iterable response that records whether close() was called."""

    def __init__(self, chunks: Iterable[bytes], failAt: int | None = None) -> None:
        self.chunks = chunks
        self.failAt = failAt
        self.closed = threading.Event()
        self.produced = 0

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index == self.failAt:
                raise OSError("the disk went away")
            self.produced += len(chunk)
            yield chunk

    def close(self) -> None:
        self.closed.set()


def test_closeIsCalledAfterSuccess(oneReactor: Any, pool: ThreadPool) -> None:
    body = Body([b"a", b"b"])

    def app(environ: Environ, startResponse: StartResponse) -> Body:
        startResponse("200 OK", [])
        return body

    port = serve(oneReactor, pool, app)
    assert fetch(oneReactor, port).body == b"ab"
    assert body.closed.is_set()


def test_anExceptionBeforeTheHeadersIsA500(
    oneReactor: Any, pool: ThreadPool, logged: list[Any]
) -> None:
    body = Body([b"a", b"b"], failAt=0)

    def app(environ: Environ, startResponse: StartResponse) -> Body:
        startResponse("200 OK", [("X-Never", "sent")])
        return body

    port = serve(oneReactor, pool, app)
    answer = fetch(oneReactor, port)
    assert answer.status == 500 and answer.headers["X-Never"] is None
    assert body.closed.is_set()
    (failure,) = failuresOf(logged, OSError)
    assert str(failure.value) == "the disk went away"


def test_anExceptionInTheApplicationCallIsA500(
    oneReactor: Any, pool: ThreadPool, logged: list[Any]
) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> list[bytes]:
        raise LookupError("no such thing")

    port = serve(oneReactor, pool, app)
    answer = fetch(oneReactor, port)
    assert answer.status == 500 and b"no such thing" not in answer.body
    assert len(failuresOf(logged, LookupError)) == 1
    # The connection goes on serving after a 500.
    assert fetch(oneReactor, port).status == 500


def test_anExceptionAfterTheHeadersClosesTheConnection(
    oneReactor: Any, pool: ThreadPool, logged: list[Any]
) -> None:
    body = Body([b"first ", b"second"], failAt=1)

    def app(environ: Environ, startResponse: StartResponse) -> Body:
        startResponse("200 OK", [])
        return body

    port = serve(oneReactor, pool, app)
    raw = rawExchange(oneReactor, port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK") and raw.endswith(b"first \r\n")
    assert body.closed.is_set()
    assert len(failuresOf(logged, OSError)) == 1


def test_closeFailureIsLogged(oneReactor: Any, pool: ThreadPool, logged: list[Any]) -> None:
    class Closing(Body):
        def close(self) -> None:
            raise ValueError("close broke")

    def app(environ: Environ, startResponse: StartResponse) -> Body:
        startResponse("200 OK", [])
        return Closing([b"fine"])

    port = serve(oneReactor, pool, app)
    assert fetch(oneReactor, port).body == b"fine"
    runUntil(oneReactor, lambda: failuresOf(logged, ValueError))


def test_bodyLongerThanContentLengthIsCut(
    oneReactor: Any, pool: ThreadPool, logged: list[Any]
) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> list[bytes]:
        startResponse("200 OK", [("Content-Length", "4")])
        return [b"four", b"and more"]

    port = serve(oneReactor, pool, app)
    raw = rawExchange(
        oneReactor, port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert raw.endswith(b"\r\n\r\nfour")  # one response, cut, then closed
    assert raw.count(b"HTTP/1.1 200") == 1
    assert any("more than its Content-Length" in str(e.get("log_format")) for e in logged)


def test_bodyShorterThanContentLengthCloses(
    oneReactor: Any, pool: ThreadPool, logged: list[Any]
) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> Iterator[bytes]:
        startResponse("200 OK", [("Content-Length", "10")])
        yield b"short"

    port = serve(oneReactor, pool, app)
    raw = rawExchange(oneReactor, port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.endswith(b"\r\n\r\nshort")
    assert any("sent {sent} of its Content-Length" in str(e.get("log_format")) for e in logged)


# -- threads and back-pressure ---------------------------------------------------------


def test_theApplicationDoesNotBlockTheReactor(oneReactor: Any, pool: ThreadPool) -> None:
    release = threading.Event()

    def slow(environ: Environ, startResponse: StartResponse) -> list[bytes]:
        if environ["PATH_INFO"] == "/slow":
            release.wait(10)
        startResponse("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    port = serve(oneReactor, pool, slow)
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        waiting = executor.submit(lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=10))
        runUntil(oneReactor, waiting.done)
        connection = waiting.result()
        pending = executor.submit(
            lambda: (connection.request("GET", "/slow"), connection.getresponse().read())[1]
        )
        assert fetch(oneReactor, port, "/fast").body == b"/fast"
        assert not pending.done()
        release.set()
        runUntil(oneReactor, pending.done)
        assert pending.result() == b"/slow"
        connection.close()


def streamingApp(chunk: bytes, count: int, body: list[Body]) -> Any:
    def app(environ: Environ, startResponse: StartResponse) -> Body:
        startResponse("200 OK", [("Content-Length", str(len(chunk) * count))])
        made = Body(chunk for _ in range(count))
        body.append(made)
        return made

    return app


def test_aSlowClientHoldsTheApplicationBack(reactor: Any, pool: ThreadPool) -> None:
    chunk = b"x" * 65536
    count = 400  # 25 MiB, more than the kernel's socket buffers hold
    bodies: list[Body] = []
    port = serve(reactor, pool, streamingApp(chunk, count, bodies))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    client.settimeout(10)
    client.connect(("127.0.0.1", port))
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    runUntil(reactor, lambda: bodies and bodies[0].produced > 0)
    end = time.monotonic() + 0.5
    runUntil(reactor, lambda: time.monotonic() > end)
    held = bodies[0].produced
    assert held < len(chunk) * count // 3, f"the application ran ahead: {held} bytes produced"
    total = 0

    def readAll() -> int:
        got = 0
        data = client.recv(65536)
        while data:
            got += len(data)
            if got >= len(chunk) * count:
                break
            data = client.recv(1 << 20)
        return got

    total = inThread(reactor, readAll, timeout=30)
    client.close()
    assert total >= len(chunk) * count
    runUntil(reactor, bodies[0].closed.is_set)


def test_aClientThatLeavesStopsTheApplication(oneReactor: Any, pool: ThreadPool) -> None:
    bodies: list[Body] = []

    def forever() -> Iterator[bytes]:
        while True:
            yield b"y" * 65536

    def app(environ: Environ, startResponse: StartResponse) -> Body:
        startResponse("200 OK", [])
        made = Body(forever())
        bodies.append(made)
        return made

    port = serve(oneReactor, pool, app)
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    runUntil(oneReactor, lambda: bodies and bodies[0].produced > 0)
    client.close()
    runUntil(oneReactor, bodies[0].closed.is_set)


def test_shutdownReleasesWaitingThreads(pool: ThreadPool) -> None:
    made = reactorClass()()
    reactormixins.trackDescriptors(made)
    bodies: list[Body] = []
    try:
        port = serve(made, pool, streamingApp(b"z" * 65536, 1000, bodies))
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        client.connect(("127.0.0.1", port))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        runUntil(made, lambda: bodies and bodies[0].produced > 0)
        made.fireSystemEvent("shutdown")
        assert bodies[0].closed.wait(5)
        client.close()
    finally:
        reactormixins.closeReactor(made)


# -- compliance: wsgiref's validator ----------------------------------------------------


@pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/v/a?q=1", None), ("POST", "/v/form", b"a=1&b=2"), ("HEAD", "/v/", None)],
)
def test_validatorFindsNoFault(
    oneReactor: Any,
    pool: ThreadPool,
    logged: list[Any],
    method: str,
    path: str,
    body: bytes | None,
) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> Iterator[bytes]:
        stream = environ["wsgi.input"]
        received = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.errors"].write("validated\n")
        environ["wsgi.errors"].flush()
        write = startResponse("200 OK", [("Content-Type", "text/plain")])
        write(b"[")
        yield received
        yield b"]"

    port = serve(oneReactor, pool, validator(app), mount=b"v")
    answer = fetch(oneReactor, port, path, method=method, body=body)
    assert answer.status == 200, answer.body
    assert answer.body == (b"" if method == "HEAD" else b"[" + (body or b"") + b"]")
    assert not [e for e in logged if e.get("log_failure") is not None]


@pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")
def test_validatorWithAnErrorHandlingApplication(oneReactor: Any, pool: ThreadPool) -> None:
    def app(environ: Environ, startResponse: StartResponse) -> list[bytes]:
        try:
            raise RuntimeError("handled")
        except RuntimeError:
            import sys

            startResponse(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"sorry"]

    port = serve(oneReactor, pool, validator(app))
    answer = fetch(oneReactor, port)
    assert (answer.status, answer.body) == (500, b"sorry")


# -- Flask -------------------------------------------------------------------------------


@pytest.fixture
def flaskApp() -> Any:
    flask = pytest.importorskip(
        "flask", reason="Flask is not installed (it is in pyproject's test extra)"
    )
    app = flask.Flask("torsiontest")

    @app.route("/hello/<name>")
    def helloName(name: str) -> str:
        return f"hello {name} at {flask.url_for('helloName', name=name)}"

    @app.route("/form", methods=["POST"])
    def form() -> Any:
        return flask.jsonify(dict(flask.request.form))

    @app.route("/json", methods=["POST"])
    def echoJson() -> Any:
        return flask.jsonify(flask.request.get_json())

    @app.route("/stream")
    def stream() -> Any:
        def generate() -> Iterator[str]:
            for n in range(3):
                yield f"line {n}\n"

        return flask.Response(generate(), mimetype="text/plain")

    @app.route("/broken")
    def broken() -> str:
        raise ValueError("flask view failed")

    @app.route("/cookie")
    def cookie() -> Any:
        response = flask.make_response("set")
        response.set_cookie("flavour", "chocolate")
        return response

    return app


def test_flask(oneReactor: Any, pool: ThreadPool, flaskApp: Any) -> None:
    port = serve(oneReactor, pool, flaskApp, mount=b"app")
    answer = fetch(oneReactor, port, "/app/hello/world")
    assert (answer.status, answer.body) == (200, b"hello world at /app/hello/world")
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    answer = fetch(
        oneReactor,
        port,
        "/app/form",
        method="POST",
        body=b"a=1&b=two",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert json.loads(answer.body) == {"a": "1", "b": "two"}
    answer = fetch(
        oneReactor,
        port,
        "/app/json",
        method="POST",
        body=iter([b'{"k": ', b"[1, 2]}"]),
        headers={"Content-Type": "application/json"},
        chunked=True,
    )
    assert json.loads(answer.body) == {"k": [1, 2]}
    answer = fetch(oneReactor, port, "/app/stream")
    assert answer.body == b"line 0\nline 1\nline 2\n"
    assert fetch(oneReactor, port, "/app/missing").status == 404
    assert (
        fetch(oneReactor, port, "/app/cookie").headers["Set-Cookie"].startswith("flavour=chocolate")
    )


def test_flaskErrorsAreFlasks(oneReactor: Any, pool: ThreadPool, flaskApp: Any) -> None:
    port = serve(oneReactor, pool, flaskApp)
    answer = fetch(oneReactor, port, "/broken")
    assert answer.status == 500 and b"Internal Server Error" in answer.body


def test_notAContainer(oneReactor: Any, pool: ThreadPool) -> None:
    wsgi = WSGIResource(oneReactor, pool, hello)
    with pytest.raises(RuntimeError, match="leaf"):
        wsgi.putChild(b"x", Resource())
