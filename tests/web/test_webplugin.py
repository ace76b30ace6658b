"""The ``web`` plugin (torsion/plugins/torsion_web.py, torsion/tap/web.py).

Options are parsed directly and services made with a MemoryReactor as the global
reactor; ``torsiond web`` and ``torsion mktap web`` run for real as child processes on
free ports of 127.0.0.1, with http.client (and Python's ssl) as the clients. The tests
that need torsion.web.static, script or vhost skip, saying so, where those modules
are missing.
"""

from __future__ import annotations

import http.client
import importlib.util
import pickle
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.application.conftest import installedAsGlobal
from tests.tap._torsiond import TORSIOND, freePort, runTorsiond
from torsion.application.internet import StreamServerEndpointService
from torsion.application.service import IServiceMaker, MultiService
from torsion.internet.testing import MemoryReactor
from torsion.plugin import getPlugins
from torsion.python import usage
from torsion.tap import web
from torsion.web import server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "web"
TORSION = Path(sys.executable).with_name("torsion")


def hasModule(name: str) -> bool:
    return importlib.util.find_spec(f"torsion.web.{name}") is not None


needsStatic = pytest.mark.skipif(
    not hasModule("static"), reason="torsion.web.static is not here yet (branch webstatic)"
)
needsScript = pytest.mark.skipif(
    not hasModule("script"), reason="torsion.web.script is not here yet (branch webscript)"
)
needsVhost = pytest.mark.skipif(
    not hasModule("vhost"), reason="torsion.web.vhost is not here yet (branch webscript)"
)


@pytest.fixture
def memoryReactor() -> Iterator[MemoryReactor]:
    made = MemoryReactor()
    with installedAsGlobal(made):
        yield made


@pytest.fixture
def inExamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in examples/web, where --wsgi wsgiapp.application is found."""
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.setattr(sys, "path", list(sys.path))


def parse(*args: str) -> web.Options:
    options = web.Options()
    options.parseOptions(list(args))
    return options


def get(
    port: int,
    path: str = "/",
    host: str | None = None,
    method: str = "GET",
    body: bytes | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    if context is not None:
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, context=context
        )
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Host": host} if host else {})
        answer = connection.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        connection.close()


def localListen(port: int) -> str:
    return f"tcp:{port}:interface=127.0.0.1"


# -- options -----------------------------------------------------------------------------


def test_pluginIsFound() -> None:
    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert makers["web"].options is web.Options


def test_defaultListensOnPort8080OfEveryInterface() -> None:
    options = parse()
    assert options["listen"] == ["tcp:8080"]
    assert options["max-threads"] == 100


def test_portIsAnAliasOfListen() -> None:
    assert parse("--port", "8081")["listen"] == ["tcp:8081"]
    assert parse("-p", "8082")["listen"] == ["tcp:8082"]
    assert parse("--port", "tcp:1:interface=127.0.0.1")["listen"] == ["tcp:1:interface=127.0.0.1"]


def test_severalListens() -> None:
    options = parse("--listen", "tcp:8001", "--port", "8002", "--listen", "unix:/tmp/w.sock")
    assert options["listen"] == ["tcp:8001", "tcp:8002", "unix:/tmp/w.sock"]


def test_addHeaderAndFlags() -> None:
    options = parse(
        "--add-header", "X-Frame-Options: DENY", "--add-header", "X-Two:2",
        "--display-tracebacks", "-l", "access.log", "-t", "7",
    )  # fmt: skip
    assert options["headers"] == [(b"X-Frame-Options", b"DENY"), (b"X-Two", b"2")]
    assert options["display-tracebacks"] == 1
    assert (options["logfile"], options["max-threads"]) == ("access.log", 7)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--listen", "tcp:80:interfac=x"], "interfac"),
        (["--listen", "bogus:1"], "unknown endpoint type"),
        (["--path", "/no/such/dir"], "--path '/no/such/dir': no such file"),
        (["--resource-script", "/no/such.rpy"], "no such file"),
        (["--wsgi", "nodots"], "not a dotted name"),
        (["--wsgi", "no_such_module_here.app"], "cannot import no_such_module_here"),
        (["--wsgi", "os.no_such_name"], "os has no no_such_name"),
        (["--wsgi", "os.sep"], "not callable"),
        (["--class", "os.path.nothing"], "has no"),
        (["--wsgi", "os.getcwd", "--class", "os.getcwd"], "give one root"),
        (["--mime-type", "text/plain"], "give --path"),
        (["--ignore-ext", "html"], "starts with '.'"),
        (["--add-header", "no colon"], "'Name: value'"),
        (["--add-header", "Bad Name: 1"], "not an HTTP token"),
        (["--add-header", "X-A: 1\r\nSet-Cookie: evil=1"], "CR, LF or NUL"),
        (["--vhost", "example.com"], "HOST=DIRECTORY"),
        (["--vhost", "example.com=/no/such/dir"], "no such file"),
        (["--processor", "rpy=x.y"], ".EXT=package.module.Processor"),
        (["--max-threads", "0"], "at least one thread"),
        (["--max-threads", "many"], "not a number"),
    ],
)
def test_badOptions(args: list[str], words: str) -> None:
    with pytest.raises(usage.UsageError, match=words.replace("(", r"\(").replace(".", r"\.")):
        parse(*args)


@needsStatic
def test_processorMustBeImportable(tmp_path: Path) -> None:
    with pytest.raises(usage.UsageError, match="cannot import nothere"):
        parse("--path", str(tmp_path), "--processor", ".x=nothere.Processor")


# -- makeService ---------------------------------------------------------------------------


def test_oneSiteOnEveryEndpoint(memoryReactor: MemoryReactor) -> None:
    made = web.makeService(
        parse("--listen", localListen(8001), "--port", "8002", "-l", "/tmp/x.log")
    )
    assert isinstance(made, MultiService)
    children = list(made)
    assert all(isinstance(child, StreamServerEndpointService) for child in children)
    (site,) = {id(child.factory): child.factory for child in children}.values()
    assert isinstance(site, server.Site) and site.logPath == "/tmp/x.log"
    assert site.displayTracebacks is False
    assert isinstance(site.resource, web.WelcomePage)
    made.privilegedStartService()
    made.startService()
    ports = [(port, interface) for port, _, _, interface in memoryReactor.tcpServers]
    assert ports == [(8001, "127.0.0.1"), (8002, "")]


def test_classRootAndHeaders(memoryReactor: MemoryReactor) -> None:
    made = web.makeService(
        parse("--class", "torsion.web.resource.Resource", "--add-header", "X-A: 1")
    )
    root = next(iter(made)).factory.resource
    assert isinstance(root, web.AddHeadersResource)
    assert type(root.original).__name__ == "Resource"


def test_wsgiRootIsSavedByName(memoryReactor: MemoryReactor, inExamples: None) -> None:
    made = web.makeService(parse("--wsgi", "wsgiapp.application", "-t", "3"))
    root = next(iter(made)).factory.resource
    assert isinstance(root, web.WSGIApplication)
    copy = pickle.loads(pickle.dumps(made))
    again = next(iter(copy)).factory.resource
    assert (again.name, again.maxThreads, again._pool.max) == ("wsgiapp.application", 3, 3)
    assert again._application is root._application


def test_theWholeServiceIsPicklable(memoryReactor: MemoryReactor) -> None:
    made = web.makeService(parse("--add-header", "X-A: 1", "--display-tracebacks"))
    site = next(iter(pickle.loads(pickle.dumps(made)))).factory
    assert site.displayTracebacks is True
    assert site.resource.headers == [(b"X-A", b"1")]


# -- through torsiond ----------------------------------------------------------------------


def copyExamples(tmp_path: Path) -> Path:
    for name in ("wsgiapp.py", "ci.rpy", "visits.rpy", "later.rpy"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path


def test_torsiondWebWelcomePageAndAccessLog(tmp_path: Path) -> None:
    port = freePort()
    args = ["web", "--listen", localListen(port), "--logfile", "access.log"]
    with runTorsiond(args, port, tmp_path):
        status, headers, body = get(port, "/", host=f"localhost:{port}")
        assert status == 200 and b"No content was given" in body
        assert headers["Server"].startswith("TorsionWeb/")
        assert get(port, "/nothing/here")[0] == 200
    log = (tmp_path / "access.log").read_text()
    assert '"GET / HTTP/1.1" 200' in log and '"GET /nothing/here HTTP/1.1" 200' in log


def test_torsiondWebWsgi(tmp_path: Path) -> None:
    copyExamples(tmp_path)
    port = freePort()
    args = ["web", "--port", localListen(port), "--wsgi", "wsgiapp.application", "-t", "2",
            "--add-header", "X-Served-By: torsion"]  # fmt: skip
    with runTorsiond(args, port, tmp_path):
        status, headers, body = get(port, "/")
        assert (status, body) == (200, b"hello from WSGI, mounted at /\n")
        assert headers["X-Served-By"] == "torsion"
        assert get(port, "/echo", method="POST", body=b"x" * 100_000)[2] == b"x" * 100_000
        lines = get(port, "/lines?5000")[2].splitlines()
        assert len(lines) == 5000 and lines[-1] == b"line 4999"
        assert get(port, "/missing")[0] == 404


def test_torsiondWebSeveralEndpointsWithTLS(tmp_path: Path) -> None:
    from tests.internet.tlshelpers import serverCert, theCA

    cert = serverCert()
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    plain, secure = freePort(), freePort()
    args = [
        "web",
        "--listen", localListen(plain),
        "--listen", f"ssl:{secure}:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem",
        "--class", "torsion.tap.web.WelcomePage",
    ]  # fmt: skip
    with runTorsiond(args, plain, tmp_path):
        assert get(plain)[0] == 200
        context = ssl.create_default_context()
        theCA().configure_trust(context)
        context.check_hostname = False
        status, _, body = get(secure, context=context)
        assert status == 200 and b"torsion web is running" in body


def test_torsiondWebDisplayTracebacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken.py").write_text(
        "from torsion.web import resource\n"
        "class Broken(resource.Resource):\n"
        "    isLeaf = True\n"
        "    def render_GET(self, request):\n"
        "        raise ZeroDivisionError('shown to the client')\n"
    )
    port, shown = freePort(), freePort()
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with runTorsiond(["web", "--listen", localListen(port), "--class", "broken.Broken"],
                     port, tmp_path):  # fmt: skip
        status, _, body = get(port)
        assert status == 500 and b"shown to the client" not in body
    with runTorsiond(["web", "--listen", localListen(shown), "--class", "broken.Broken",
                      "--display-tracebacks"], shown, tmp_path):  # fmt: skip
        status, _, body = get(shown)
        assert status == 500 and b"ZeroDivisionError" in body


def test_torsiondWebBadOptionIsAUsageError(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(TORSIOND), "-n", "-o", "--pidfile=", "web", "--wsgi", "nowhere.app"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "cannot import nowhere" in done.stderr


def test_mktapWebWsgiThenRunTheFile(tmp_path: Path) -> None:
    copyExamples(tmp_path)
    port = freePort()
    done = subprocess.run(
        [str(TORSION), "mktap", "web", "--listen", localListen(port), "--wsgi",
         "wsgiapp.application"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert (tmp_path / "web.tap").exists()
    with runTorsiond(["-f", "web.tap"], port, tmp_path):
        assert get(port)[2] == b"hello from WSGI, mounted at /\n"


# -- static files, scripts, virtual hosts ------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text("<p>the index</p>")
    (root / "about.html").write_text("<p>about</p>")
    (root / "notes.unknownext").write_text("plain notes")
    (root / "upper.up").write_text("shout")
    shutil.copy(EXAMPLES / "ci.rpy", root / "ci.rpy")
    (tmp_path / "procs.py").write_text(
        "from torsion.web import static\n"
        "def Upper(path, registry):\n"
        "    with open(path, 'rb') as f:\n"
        "        return static.Data(f.read().upper(), 'text/plain')\n"
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.html").write_text("<p>the other host</p>")
    return tmp_path


@needsStatic
@needsScript
def test_torsiondWebPath(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = freePort()
    args = ["web", "--listen", localListen(port), "--path", "www",
            "--mime-type", "text/x-torsion", "--ignore-ext", ".html",
            "--processor", ".up=procs.Upper"]  # fmt: skip
    monkeypatch.setenv("PYTHONPATH", str(site))
    with runTorsiond(args, port, site):
        status, _, body = get(port, "/")
        assert (status, body) == (200, b"<p>the index</p>")
        assert get(port, "/about")[2] == b"<p>about</p>"
        status, headers, body = get(port, "/notes.unknownext")
        assert (headers["Content-Type"], body) == ("text/x-torsion", b"plain notes")
        assert get(port, "/upper.up")[2] == b"SHOUT"
        status, headers, body = get(port, "/ci.rpy/foo/")
        assert status == 200 and body.startswith(b"<p>ciao da /ci.rpy/foo/: ")
        assert headers["Cache-Control"] == "no-cache, must-revalidate"


@needsStatic
@needsScript
def test_torsiondWebAllowIgnoreExt(site: Path) -> None:
    port = freePort()
    args = ["web", "--listen", localListen(port), "--path", "www", "--allow-ignore-ext"]
    with runTorsiond(args, port, site):
        assert get(port, "/about")[2] == b"<p>about</p>"
        assert get(port, "/notes")[2] == b"plain notes"


@needsStatic
@needsScript
@needsVhost
def test_torsiondWebVhost(site: Path) -> None:
    port = freePort()
    args = ["web", "--listen", localListen(port), "--path", "www",
            "--vhost", "other.example=other"]  # fmt: skip
    with runTorsiond(args, port, site):
        assert get(port, "/", host="other.example")[2] == b"<p>the other host</p>"
        assert get(port, "/", host=f"OTHER.example:{port}")[2] == b"<p>the other host</p>"
        assert get(port, "/", host="localhost")[2] == b"<p>the index</p>"


@needsStatic
@needsScript
@needsVhost
def test_vhostWithoutRootAnswers404ForOtherHosts(site: Path) -> None:
    port = freePort()
    args = ["web", "--listen", localListen(port), "--vhost", "other.example=other"]
    with runTorsiond(args, port, site):
        assert get(port, "/", host="other.example")[0] == 200
        assert get(port, "/", host="localhost")[0] == 404


def test_aSiteIsSavedWithoutItsSessions(memoryReactor: MemoryReactor) -> None:
    """torsiond saves the application at shutdown; live sessions must not stop that."""
    made = web.makeService(parse())
    site = next(iter(made)).factory
    from torsion.internet.task import Clock

    site._reactor = Clock()
    site.makeSession()
    copy = next(iter(pickle.loads(pickle.dumps(made)))).factory
    assert len(site.sessions) == 1 and copy.sessions == {}


@needsStatic
@needsScript
def test_mktapWebPathThenRunTheFile(site: Path) -> None:
    port = freePort()
    done = subprocess.run(
        [str(TORSION), "mktap", "web", "--path", "www", "--ignore-ext", ".html",
         "--port", localListen(port)],
        cwd=site, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    with runTorsiond(["-f", "web.tap"], port, site):
        assert get(port, "/about")[2] == b"<p>about</p>"
        assert get(port, "/ci.rpy/")[2].startswith(b"<p>ciao da /ci.rpy/: ")
