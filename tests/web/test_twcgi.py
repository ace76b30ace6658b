"""Tests for torsion.web.twcgi: real CGI programs (sh and Python) behind a real Site."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.internet import reactormixins
from tests.internet.reactormixins import loggedErrors, loggedMessages, runUntil
from tests.web.livesite import errorsLogged, fetch, oneReactor, rawExchange, serve
from torsion.web import resource, twcgi

__all__ = ["loggedErrors", "loggedMessages", "oneReactor", "reactor"]

reactor = reactormixins.reactor  # the conformance fixture: every reactor here

pytestmark = pytest.mark.skipif(not os.path.exists("/bin/sh"), reason="needs /bin/sh")


def program(path: Path, source: str, executable: bool = True) -> Path:
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def python(path: Path, source: str) -> Path:
    return program(path, f"#!{sys.executable}\n" + textwrap.dedent(source))


ENV_DUMP = """\
import json, os, sys
body = sys.stdin.buffer.read()
sys.stdout.write("Content-Type: application/json\\r\\n\\r\\n")
seen = {"env": dict(os.environ), "argv": sys.argv[1:], "stdin": body.decode("latin-1")}
sys.stdout.write(json.dumps(seen))
"""


def cgiSite(reactor: Any, tmp_path: Path, source: str, name: str = "prog.cgi") -> int:
    prog = (
        python(tmp_path / name, source)
        if source.startswith("import")
        else program(tmp_path / name, source)
    )
    root = resource.Resource()
    cgi = resource.Resource()
    root.putChild(b"cgi-bin", cgi)
    cgi.putChild(name.encode(), twcgi.CGIScript(str(prog)))
    port, _ = serve(reactor, root)
    return port


def dumped(reactor: Any, port: int, path: str, **kwargs: Any) -> dict[str, Any]:
    answer = fetch(reactor, port, path, **kwargs)
    assert answer.status == 200, answer.body
    assert answer.header("Content-Type") == "application/json"
    result: dict[str, Any] = json.loads(answer.body)
    return result


# -- the environment (RFC 3875 section 4.1) ------------------------------------------------


def test_environment(oneReactor: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("TORSION_TEST_SECRET", "do not pass me")
    port = cgiSite(oneReactor, tmp_path, ENV_DUMP)
    seen = dumped(
        oneReactor,
        port,
        "/cgi-bin/prog.cgi/extra/path?a=1&b=%20",
        method="POST",
        body=b"x=1&y=2",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Custom": "custom value",
            "Proxy": "http://attacker.example:8080",
            "Foo_Bar": "posing as Foo-Bar",
            "Host": "site.example:8123",
        },
    )
    env = seen["env"]
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["REQUEST_METHOD"] == "POST"
    assert env["QUERY_STRING"] == "a=1&b=%20"
    assert env["PATH_INFO"] == "/extra/path"
    assert env["SCRIPT_NAME"] == "/cgi-bin/prog.cgi"
    assert env["SCRIPT_FILENAME"] == str(tmp_path / "prog.cgi")
    assert env["REQUEST_URI"] == "/cgi-bin/prog.cgi/extra/path?a=1&b=%20"
    assert env["CONTENT_LENGTH"] == "7"
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["SERVER_NAME"] == "site.example"
    assert env["SERVER_PORT"] == str(port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_SOFTWARE"].startswith("TorsionWeb/")
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["HTTP_X_CUSTOM"] == "custom value"
    assert env["HTTP_HOST"] == "site.example:8123"
    assert "HTTP_PROXY" not in env  # httpoxy
    assert "HTTP_FOO_BAR" not in env
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert "HTTPS" not in env
    assert "TORSION_TEST_SECRET" not in env
    assert env["PATH"] == os.environ["PATH"]
    assert seen["stdin"] == "x=1&y=2"
    assert seen["argv"] == []


def test_passEnvironmentNoneHandsOnEverything(
    oneReactor: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("TORSION_TEST_SHARED", "pass me")
    monkeypatch.setattr(twcgi.CGIScript, "passEnvironment", None)
    port = cgiSite(oneReactor, tmp_path, ENV_DUMP)
    assert dumped(oneReactor, port, "/cgi-bin/prog.cgi")["env"]["TORSION_TEST_SHARED"] == "pass me"


def test_getWithoutBodyOrQuery(oneReactor: Any, tmp_path: Path) -> None:
    port = cgiSite(oneReactor, tmp_path, ENV_DUMP)
    env = dumped(oneReactor, port, "/cgi-bin/prog.cgi")["env"]
    assert env["QUERY_STRING"] == ""
    assert "PATH_INFO" not in env
    assert "CONTENT_LENGTH" not in env


def test_repeatedHeadersAreJoined(oneReactor: Any, tmp_path: Path) -> None:
    port = cgiSite(oneReactor, tmp_path, ENV_DUMP)
    answer = rawExchange(
        oneReactor,
        port,
        b"GET /cgi-bin/prog.cgi HTTP/1.1\r\nHost: x\r\nX-Many: a\r\nX-Many: b\r\n"
        b"Cookie: c=1\r\nCookie: d=2\r\nConnection: close\r\n\r\n",
    )
    env = json.loads(answer.partition(b"\r\n\r\n")[2].split(b"\r\n")[1])["env"]
    assert env["HTTP_X_MANY"] == "a, b"
    assert env["HTTP_COOKIE"] == "c=1; d=2"


@pytest.mark.parametrize(
    ("query", "argv"),
    [("?hello+world", ["hello", "world"]), ("?caf%C3%A9", ["café"]), ("?-x+y", []), ("?a=b", [])],
)
def test_searchWordsBecomeArguments(
    oneReactor: Any, tmp_path: Path, query: str, argv: list[str]
) -> None:
    port = cgiSite(oneReactor, tmp_path, ENV_DUMP)
    assert dumped(oneReactor, port, "/cgi-bin/prog.cgi" + query)["argv"] == argv


def test_largeBodyStreamsToStdin(reactor: Any, tmp_path: Path) -> None:
    """On every reactor: a body in a temporary file is fed to the program's stdin."""
    oneReactor = reactor
    port = cgiSite(
        oneReactor,
        tmp_path,
        """\
        #!/bin/sh
        printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'
        exec cat
        """,
    )
    body = os.urandom(3 * 1024 * 1024)  # over the in-memory threshold: from a temp file
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi", method="PUT", body=body, timeout=20)
    assert answer.status == 200
    assert answer.body == body


def test_programThatIgnoresItsStdin(oneReactor: Any, tmp_path: Path) -> None:
    port = cgiSite(
        oneReactor,
        tmp_path,
        "#!/bin/sh\nexec 0<&-\nprintf 'Content-Type: text/plain\\n\\nignored'\n",
    )
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi", method="POST", body=b"z" * 2_000_000)
    assert answer.status == 200
    assert answer.body == b"ignored"


# -- the program's answer (RFC 3875 section 6) ---------------------------------------------


def test_statusAndHeaders(oneReactor: Any, tmp_path: Path) -> None:
    port = cgiSite(
        oneReactor,
        tmp_path,
        "#!/bin/sh\nprintf 'Status: 418 I am a teapot\\nContent-Type: text/plain\\n"
        "X-Thing: 1\\n\\nshort and stout'\n",
    )
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi")
    assert (answer.status, answer.reason) == (418, "I am a teapot")
    assert answer.header("Content-Type") == "text/plain"
    assert answer.header("X-Thing") == "1"
    assert answer.body == b"short and stout"


def test_locationIsARedirect(oneReactor: Any, tmp_path: Path) -> None:
    port = cgiSite(
        oneReactor, tmp_path, "#!/bin/sh\nprintf 'Location: http://example.com/\\r\\n\\r\\n'\n"
    )
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi")
    assert answer.status == 302
    assert answer.header("Location") == "http://example.com/"


def test_headersOnlyAndHead(oneReactor: Any, tmp_path: Path) -> None:
    port = cgiSite(oneReactor, tmp_path, "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nbody'\n")
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi", method="HEAD")
    assert answer.status == 200
    assert answer.body == b""


def test_contentLengthFromTheProgramIsKeptAndEnforced(oneReactor: Any, tmp_path: Path) -> None:
    port = cgiSite(oneReactor, tmp_path, "#!/bin/sh\nprintf 'Content-Length: 5\\n\\n0123456789'\n")
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi")
    assert answer.header("Content-Length") == "5"
    assert answer.body == b"01234"


def test_shortBodyClosesTheConnection(oneReactor: Any, tmp_path: Path, loggedErrors: Any) -> None:
    port = cgiSite(oneReactor, tmp_path, "#!/bin/sh\nprintf 'Content-Length: 100\\n\\nonly this'\n")
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi")
    assert answer.status == 200
    assert answer.error is not None
    assert "less than its Content-Length" in errorsLogged(loggedErrors)


def test_nonZeroExitAfterACompleteAnswerIsKept(
    oneReactor: Any, tmp_path: Path, loggedMessages: Any
) -> None:
    port = cgiSite(
        oneReactor, tmp_path, "#!/bin/sh\nprintf 'Status: 503 Busy\\n\\ncome back'\nexit 4\n"
    )
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi")
    assert (answer.status, answer.body, answer.error) == (503, b"come back", None)


def test_stderrIsLogged(oneReactor: Any, tmp_path: Path, loggedMessages: Any) -> None:
    port = cgiSite(
        oneReactor,
        tmp_path,
        "#!/bin/sh\necho 'a warning' >&2\nprintf 'Content-Type: text/plain\\n\\nok'\n",
    )
    assert fetch(oneReactor, port, "/cgi-bin/prog.cgi").body == b"ok"
    runUntil(oneReactor, lambda: any("a warning" in str(e.get("message")) for e in loggedMessages))


# -- programs that break the protocol: 500, logged, the server goes on -----------------------


BROKEN = {
    "malformedHeader": ("printf 'this is no header\\n\\nbody'", "malformed CGI header"),
    "badStatus": ("printf 'Status: two hundred\\n\\n'", "not a status code"),
    "injectedHeader": ("printf 'X-A: 1\\rX-B: 2\\n\\n'", "cannot carry"),
    "noBlankLine": ("printf 'Content-Type: text/plain\\n'", "before the blank line"),
    "noOutput": ("exit 0", "before the blank line"),
    "blankFirst": ("printf '\\nbody'", "no CGI header"),
    "diesBeforeHeaders": ("printf 'Content-Type: te'; kill -9 $$", "signal 9"),
    "exitsNonZeroSilently": ("exit 3", "code 3"),
    "hugeHeaders": (
        "yes 'X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' | head -c 100000; sleep 2",
        "longer than",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_brokenProgramIs500AndLogged(
    oneReactor: Any, tmp_path: Path, loggedErrors: Any, case: str
) -> None:
    body, logged = BROKEN[case]
    port = cgiSite(oneReactor, tmp_path, f"#!/bin/sh\n{body}\n")
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi")
    assert answer.status == 500
    assert b"CGI" not in answer.body  # the details are for the log
    assert logged in errorsLogged(loggedErrors)
    assert fetch(oneReactor, port, "/cgi-bin/prog.cgi").status == 500  # still serving


def test_tracebackPageWithDisplayTracebacks(
    oneReactor: Any, tmp_path: Path, loggedErrors: Any
) -> None:
    prog = program(tmp_path / "bad.cgi", "#!/bin/sh\nprintf 'nonsense\\n\\n'\n")
    port, site = serve(oneReactor, twcgi.CGIScript(str(prog)))
    site.displayTracebacks = True
    answer = fetch(oneReactor, port, "/")
    assert answer.status == 500
    assert b"malformed CGI header" in answer.body


def test_notExecutableIs500WithAHint(oneReactor: Any, tmp_path: Path, loggedErrors: Any) -> None:
    prog = program(tmp_path / "plain.cgi", "#!/bin/sh\necho hi\n", executable=False)
    port, _ = serve(oneReactor, twcgi.CGIScript(str(prog)))
    assert fetch(oneReactor, port, "/").status == 500
    assert "chmod +x" in errorsLogged(loggedErrors)


def test_programDyingMidBodyCutsTheResponse(
    oneReactor: Any, tmp_path: Path, loggedErrors: Any
) -> None:
    port = cgiSite(
        oneReactor,
        tmp_path,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\npartial'\nkill -9 $$\n",
    )
    answer = fetch(oneReactor, port, "/cgi-bin/prog.cgi")
    assert answer.status == 200
    assert answer.body == b"partial"
    assert answer.error is not None  # no last chunk: the client knows it is incomplete
    assert "signal 9" in errorsLogged(loggedErrors)


# -- streaming, back-pressure and clients that leave ----------------------------------------


def test_outputIsStreamedWithBackPressure(reactor: Any, tmp_path: Path) -> None:
    """On every reactor: the program's pipe and the client's socket pace each other."""
    oneReactor = reactor
    done = tmp_path / "finished-writing"
    size = 32 * 1024 * 1024
    port = cgiSite(
        oneReactor,
        tmp_path,
        f"""\
        #!/bin/sh
        printf 'Content-Type: application/octet-stream\\n\\n'
        head -c {size} /dev/zero
        touch {done}
        """,
    )
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    client.settimeout(10)
    client.connect(("127.0.0.1", port))
    client.sendall(b"GET /cgi-bin/prog.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    protocols: list[Any] = []
    original = twcgi.CGIProcessProtocol.pauseProducing

    def pausing(self: Any) -> None:
        protocols.append(self)
        original(self)

    twcgi.CGIProcessProtocol.pauseProducing = pausing  # type: ignore[method-assign]
    try:
        # The client reads nothing: the connection pauses the program's output.
        runUntil(oneReactor, lambda: bool(protocols))
        deadline = oneReactor.seconds() + 0.5
        while oneReactor.seconds() < deadline:
            oneReactor.iterate(0.05)
        assert not done.exists(), "the program wrote everything into the server's memory"
        transport = protocols[0].request.channel.transport
        assert transport.bufferedSize() < 4 * 1024 * 1024
    finally:
        twcgi.CGIProcessProtocol.pauseProducing = original  # type: ignore[method-assign]
    received = 0
    client.setblocking(False)
    headerSeen = False
    buffer = b""

    def drain() -> bool:
        nonlocal received, headerSeen, buffer
        try:
            while True:
                chunk = client.recv(1 << 20)
                if not chunk:
                    return True
                received += len(chunk)
        except BlockingIOError:
            return False

    closed: list[bool] = []
    runUntil(oneReactor, lambda: closed.append(drain()) or closed[-1], timeout=30)
    client.close()
    assert done.exists()
    assert received > size


def test_clientLeavingStopsTheProgram(oneReactor: Any, tmp_path: Path) -> None:
    pidFile = tmp_path / "pid"
    port = cgiSite(
        oneReactor,
        tmp_path,
        f"""\
        #!/bin/sh
        echo $$ > {pidFile}
        printf 'Content-Type: text/plain\\n\\n'
        while true; do echo more; sleep 0.01; done
        """,
    )
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"GET /cgi-bin/prog.cgi HTTP/1.1\r\nHost: x\r\n\r\n")
    runUntil(oneReactor, lambda: pidFile.exists() and pidFile.read_text().strip() != "")
    pid = int(pidFile.read_text())
    client.setblocking(False)
    received: list[bytes] = []

    def someBody() -> bool:
        try:
            received.append(client.recv(65536))
        except BlockingIOError:
            pass
        return b"more" in b"".join(received)

    runUntil(oneReactor, someBody)
    client.close()

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    runUntil(oneReactor, gone, timeout=10)


# -- CGIDirectory and FilteredScript ---------------------------------------------------------


def test_cgiDirectory(oneReactor: Any, tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    (bin_ / "sub").mkdir(parents=True)
    python(bin_ / "env", ENV_DUMP)
    python(bin_ / "sub" / "deep", ENV_DUMP)
    python(bin_ / ".hidden", ENV_DUMP)
    python(tmp_path / "outside", ENV_DUMP)
    root = resource.Resource()
    root.putChild(b"cgi", twcgi.CGIDirectory(str(bin_)))
    port, _ = serve(oneReactor, root)
    env = dumped(oneReactor, port, "/cgi/env/more/info")["env"]
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/cgi/env", "/more/info")
    assert dumped(oneReactor, port, "/cgi/sub/deep")["env"]["SCRIPT_NAME"] == "/cgi/sub/deep"
    for path in (
        "/cgi",
        "/cgi/",
        "/cgi/nothing",
        "/cgi/.hidden",
        "/cgi/%2e%2e/outside",
        "/cgi/sub%2f..%2f..%2foutside",
    ):
        assert fetch(oneReactor, port, path).status == 404, path


def test_filteredScriptRunsThroughItsInterpreter(oneReactor: Any, tmp_path: Path) -> None:
    class PythonFiltered(twcgi.FilteredScript):
        filter = sys.executable

    page = program(tmp_path / "page.py", ENV_DUMP, executable=False)
    port, _ = serve(oneReactor, PythonFiltered(str(page)))
    seen = dumped(oneReactor, port, "/?one+two")
    assert seen["argv"] == ["one", "two"]
    assert seen["env"]["SCRIPT_FILENAME"] == str(page)


def test_filteredScriptWithMissingInterpreter(
    oneReactor: Any, tmp_path: Path, loggedErrors: Any
) -> None:
    class Missing(twcgi.FilteredScript):
        filter = str(tmp_path / "no-such-interpreter")

    page = program(tmp_path / "page.x", "x", executable=False)
    port, _ = serve(oneReactor, Missing(str(page)))
    assert fetch(oneReactor, port, "/").status == 500
    assert "cannot start the CGI program" in errorsLogged(loggedErrors)


def test_explicitReactorIsUsed(oneReactor: Any, tmp_path: Path) -> None:
    prog = program(
        tmp_path / "p.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nexplicit'\n"
    )
    cgi = twcgi.CGIScript(str(prog), reactor=oneReactor)
    port, _ = serve(oneReactor, cgi)
    assert fetch(oneReactor, port, "/").body == b"explicit"


# -- the CGI header parser, in memory ------------------------------------------------------


class MemoryRequest:
    """What CGIProcessProtocol uses of a request, recording the response."""

    def __init__(self) -> None:
        from io import BytesIO

        from torsion.web.http_headers import Headers

        self.responseHeaders = Headers()
        self.content = BytesIO()
        self.code = 200
        self.message: bytes | None = None
        self.body = b""
        self.finished = False
        self.failed: list[Any] = []
        self.startedWriting = False
        self.producer: Any = None
        self.channel = self
        self.transport = self
        self.cut = False

    def loseConnection(self) -> None:
        self.cut = True

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        self.code, self.message = code, message

    def write(self, data: bytes) -> None:
        self.startedWriting = True
        self.body += data

    def finish(self) -> None:
        self.finished = True

    def processingFailed(self, reason: Any) -> None:
        self.failed.append(reason)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def notifyFinish(self) -> Any:
        from torsion.internet.defer import Deferred

        return Deferred()


class MemoryProcess:
    def __init__(self) -> None:
        self.stopped = False
        self.signals: list[str] = []
        self.paused = False

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def closeStdin(self) -> None:
        pass

    def loseConnection(self) -> None:
        self.stopped = True

    def signalProcess(self, signal: str) -> None:
        self.signals.append(signal)


def runProtocol(chunks: list[bytes]) -> tuple[Any, ...]:
    from torsion.internet import error
    from torsion.python.failure import Failure

    request = MemoryRequest()
    proto = twcgi.CGIProcessProtocol(request)
    proto.maxHeaderBytes = 256
    proto.makeConnection(MemoryProcess())  # type: ignore[arg-type]
    for chunk in chunks:
        proto.outReceived(chunk)
    proto.processEnded(Failure(error.ProcessDone(0)))
    failed = [str(f.value).split(": ", 1)[-1] for f in request.failed]
    headers = sorted(request.responseHeaders.getAllRawHeaders())
    outcome = [
        name
        for name, happened in [
            ("finished", request.finished),
            ("failed", failed),
            ("cut", request.cut),
        ]
        if happened
    ]
    return request.code, request.message, headers, request.body, outcome, failed


def test_headerParsingInMemory() -> None:
    code, message, headers, body, outcome, failed = runProtocol(
        [b"Status: 201 Made\r\nX-A:  spaced  \r\nContent-Type: text/x\n", b"\r\nbo", b"dy"]
    )
    assert (code, message, body, outcome, failed) == (201, b"Made", b"body", ["finished"], [])
    assert (b"X-A", [b"spaced"]) in headers


_headerish = st.lists(
    st.sampled_from(
        [
            b"Status: 200 OK",
            b"Status: 99",
            b"Content-Type: text/plain",
            b"Location: /x",
            b"X-Y: z",
            b"bad line",
            b"Content-Length: 3",
            b"Content-Length: 30",
            b"Transfer-Encoding: chunked",
            b"",
        ]
    ),
    max_size=6,
).map(lambda lines: b"\n".join(lines))


@settings(max_examples=200, deadline=None)
@given(
    output=st.one_of(st.binary(max_size=400), _headerish.map(lambda h: h + b"\n\nabcdef")),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_anyOutputInAnyChunksGivesOneAnswer(output: bytes, cuts: list[int]) -> None:
    """Whatever a program writes, however it arrives: no exception, and the same result."""
    points = sorted({min(c, len(output)) for c in cuts})
    chunks = [output[a:b] for a, b in zip([0, *points], [*points, len(output)], strict=True)]
    whole = runProtocol([output])
    assert runProtocol([c for c in chunks if c]) == whole
    _, _, _, body, outcome, failed = whole
    assert len(outcome) == 1, outcome  # finished, failed (500) or cut: exactly one
    if failed:
        assert body == b""


def timedProtocol(timeout: float = 10.0) -> tuple[Any, MemoryRequest, MemoryProcess, Any]:
    from torsion.internet.task import Clock

    request, process, clock = MemoryRequest(), MemoryProcess(), Clock()
    proto = twcgi.CGIProcessProtocol(request)
    proto.timeout, proto.clock = timeout, clock
    proto.makeConnection(process)  # type: ignore[arg-type]
    return proto, request, process, clock


def test_silentProgramTimesOutBeforeItsHeaders() -> None:
    proto, request, process, clock = timedProtocol()
    clock.advance(9)
    proto.outReceived(b"Content-Type: te")  # output resets the clock
    clock.advance(9)
    assert not request.failed and process.signals == []
    clock.advance(1)
    assert "wrote nothing for 10 seconds" in str(request.failed[0].value)
    assert process.signals == ["KILL"] and process.stopped
    assert not clock.getDelayedCalls()


def test_silentProgramTimesOutMidBody(loggedErrors: Any) -> None:
    proto, request, process, clock = timedProtocol()
    proto.outReceived(b"Content-Type: text/plain\n\nsome")
    clock.advance(10)
    assert request.cut and not request.finished and request.body == b"some"
    assert process.signals == ["KILL"]
    assert "timed out" in errorsLogged(loggedErrors)


def test_aSlowClientIsNotTheProgramsSilence() -> None:
    proto, request, process, clock = timedProtocol()
    proto.outReceived(b"Content-Type: text/plain\n\nsome")
    proto.pauseProducing()
    assert process.paused
    clock.advance(100)
    assert not request.cut and process.signals == []
    proto.resumeProducing()
    clock.advance(9)
    assert not request.cut
    clock.advance(2)
    assert request.cut


def test_noTimerLeftOnceTheProgramEnds() -> None:
    from torsion.internet import error
    from torsion.python.failure import Failure

    proto, request, _, clock = timedProtocol()
    proto.outReceived(b"Content-Type: text/plain\n\ndone")
    proto.processEnded(Failure(error.ProcessDone(0)))
    assert request.finished and not clock.getDelayedCalls()


def test_timeoutOverASocket(oneReactor: Any, tmp_path: Path, loggedErrors: Any) -> None:
    pidFile = tmp_path / "pid"
    prog = program(tmp_path / "slow.cgi", f"#!/bin/sh\necho $$ > {pidFile}\nexec sleep 30\n")
    cgi = twcgi.CGIScript(str(prog))
    cgi.timeout = 0.3
    port, _ = serve(oneReactor, cgi)
    answer = fetch(oneReactor, port, "/")
    assert answer.status == 500
    assert "CGIScript.timeout" in errorsLogged(loggedErrors)
    pid = int(pidFile.read_text())

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    runUntil(oneReactor, gone)
