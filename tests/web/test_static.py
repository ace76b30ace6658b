"""Tests for torsion.web.static: files and directories served over real sockets.

A real Site listens on 127.0.0.1 and Python's http.client (in a thread, while the test
iterates the reactor) or curl (a child process) asks it for files. Most tests run on
one reactor; the ones about how the body leaves (sendfile, the producer, a slow
client) run on every reactor of the ``reactor`` fixture.
"""

from __future__ import annotations

import email.parser
import http.client
import mimetypes
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from torsion.internet import tcp
from torsion.web import http as thttp
from torsion.web import resource, server, static

oneReactor = reactormixins.oneReactor

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors

CURL = shutil.which("curl")
needsCurl = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
asRoot = hasattr(os, "geteuid") and os.geteuid() == 0

BIG = bytes(range(256)) * 4096 * 3  # 3 MiB, beyond File.inlineSize


class RecordingSite(server.Site):
    """A Site that keeps its channels, for tests that look at the server's side."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channels: list[Any] = []

    def buildProtocol(self, addr: Any) -> Any:
        channel = super().buildProtocol(addr)
        self.channels.append(channel)
        return channel


class Server:
    """A Site on 127.0.0.1 and ways to ask it things."""

    def __init__(self, reactor: Any, root: Any) -> None:
        self.reactor = reactor
        self.site = RecordingSite(root, reactor=reactor)
        self.port = reactor.listenTCP(0, self.site, interface="127.0.0.1")
        self.number = self.port.getHost().port

    def inThread(self, work: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Run blocking `work` in a thread while the reactor runs; return its result."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = work()
            except BaseException as e:
                outcome["error"] = e

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        runUntil(self.reactor, lambda: not thread.is_alive(), timeout)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def get(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        def work() -> tuple[int, http.client.HTTPMessage, bytes]:
            connection = http.client.HTTPConnection("127.0.0.1", self.number, timeout=10)
            try:
                connection.putrequest(method, path, skip_accept_encoding=True)
                for name, value in (headers or {}).items():
                    connection.putheader(name, value)
                connection.endheaders()
                response = connection.getresponse()
                return response.status, response.headers, response.read()
            finally:
                connection.close()

        result: tuple[int, http.client.HTTPMessage, bytes] = self.inThread(work)
        return result

    def curl(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        assert CURL is not None
        child = subprocess.Popen(
            [CURL, "-s", "-S", "--max-time", "10", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        outcome: list[tuple[bytes, bytes]] = []
        thread = threading.Thread(target=lambda: outcome.append(child.communicate()), daemon=True)
        thread.start()
        runUntil(self.reactor, lambda: not thread.is_alive(), 15)
        out, err = outcome[0]
        return subprocess.CompletedProcess(child.args, child.returncode, out, err)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.number}{path}"

    def raw(self, request: bytes) -> bytes:
        """Send `request` as given and return everything the server answers."""

        def work() -> bytes:
            with socket.create_connection(("127.0.0.1", self.number), timeout=10) as sock:
                sock.sendall(request)
                sock.shutdown(socket.SHUT_WR)
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
                return b"".join(chunks)

        result: bytes = self.inThread(work)
        return result


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A served root with files and directories, and a secret beside it."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"Hello, world!\n")
    (root / "page.html").write_bytes(b"<p>page</p>")
    (root / "about.html").write_bytes(b"<p>about</p>")
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)
    (root / "big.bin").write_bytes(BIG)
    (root / "archive.tar.gz").write_bytes(b"\x1f\x8b fake")
    (root / "app.js").write_bytes(b"let a = 1;")
    (root / "noext").write_bytes(b"?")
    (root / ".hidden").write_bytes(b"dot file")
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_bytes(b"<h1>sub index</h1>")
    (root / "sub" / "inner.txt").write_bytes(b"inner")
    (root / "list").mkdir()
    (root / "list" / "a.txt").write_bytes(b"a")
    (root / "list" / "nested").mkdir()
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET")
    return root


@pytest.fixture
def served(oneReactor: Any, tree: Path) -> Server:
    return Server(oneReactor, static.File(tree))


# -- unit tests ------------------------------------------------------------------------


def test_typesAndEncodingsComeFromTheExtensions() -> None:
    types = static.loadMimeTypes()
    encodings = static.File.contentEncodings
    assert static.getTypeAndEncoding("a.tar.gz", types, encodings, "x/y") == (
        "application/x-tar",
        "gzip",
    )
    assert static.getTypeAndEncoding("PAGE.HTML.BR", types, encodings, "x/y") == (
        "text/html",
        "br",
    )
    assert static.getTypeAndEncoding("a.gz", types, encodings, "x/y") == ("x/y", "gzip")
    assert static.getTypeAndEncoding("README", types, encodings, "x/y") == ("x/y", None)


def test_theWebsTypesWinOverTheSystems(tmp_path: Path) -> None:
    table = tmp_path / "mime.types"
    table.write_text("application/x-javascript js\napplication/x-torsion-test tor\n")
    before = dict(mimetypes.types_map)
    types = static.loadMimeTypes([str(table)])
    assert mimetypes.types_map == before  # the global table is left alone
    assert types[".tor"] == "application/x-torsion-test"
    assert types[".js"] == "text/javascript"
    for ext, expected in {
        ".json": "application/json",
        ".wasm": "application/wasm",
        ".svg": "image/svg+xml",
        ".woff2": "font/woff2",
        ".mjs": "text/javascript",
        ".css": "text/css",
    }.items():
        assert types[ext] == expected
    assert static.loadMimeTypes([str(tmp_path / "missing.types")])[".png"] == "image/png"


def test_loadMimeTypesWithAnInitFunctionUsesItsTable() -> None:
    called: list[Any] = []
    types = static.loadMimeTypes(["/nonexistent"], init=called.append)
    assert called == [["/nonexistent"]]
    assert types[".wasm"] == "application/wasm"


@pytest.mark.parametrize(
    "segment", [b"..", b".", b"a/b", b"a\\b", b"..\\..\\x", b"a\x00b", b"/", b"\\"]
)
def test_segmentsThatCouldLeaveTheDirectoryAreDangerous(segment: bytes) -> None:
    assert static.isDangerous(segment)


@pytest.mark.parametrize("segment", [b"a", b"...", b"..a", b".hidden", b"a.b", b"%2e%2e"])
def test_ordinaryNamesAreNotDangerous(segment: bytes) -> None:
    assert not static.isDangerous(segment)


def test_fileSizesForPeople() -> None:
    assert [static.formatFileSize(n) for n in (0, 1023, 1024, 5 * 2**20 + 1, 3 * 2**30)] == [
        "0B",
        "1023B",
        "1K",
        "5M",
        "3G",
    ]


def test_theRegistryCachesResourcesByPath() -> None:
    registry = static.Registry()
    assert registry.getCachedPath("/a") is None
    thing = resource.Resource()
    registry.cachePath("/a", thing)
    assert registry.getCachedPath("/a") is thing


def test_ignoredExtsMustBeAList(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="list of extensions"):
        static.File(tmp_path, ignoredExts=".html")  # type: ignore[arg-type]
    assert static.File(tmp_path, allowExt=1).ignoredExts == ["*"]


def test_dataHoldsBytes() -> None:
    with pytest.raises(TypeError, match="encode it first"):
        static.Data("text", "text/plain")  # type: ignore[arg-type]


def test_similarFilesShareTheSettings(tmp_path: Path) -> None:
    root = static.File(tmp_path, defaultType="application/octet-stream", ignoredExts=[".html"])
    root.processors = {".x": lambda path, registry: resource.Resource()}
    root.contentTypes = {".y": "a/b"}
    root.useSendfile = False
    child = root.createSimilarFile(str(tmp_path / "c"))
    assert type(child) is static.File
    assert child.defaultType == "application/octet-stream"
    assert child.ignoredExts == [".html"]
    assert child.processors is root.processors
    assert child.registry is root.registry
    assert child.contentTypes == {".y": "a/b"}
    assert child.useSendfile is False
    assert child._root == root._root


# -- serving files ---------------------------------------------------------------------


def test_aFileIsServedWithItsTypeLengthAndValidators(served: Server, tree: Path) -> None:
    status, headers, body = served.get("/hello.txt")
    assert status == 200
    assert body == b"Hello, world!\n"
    assert headers["Content-Type"] == "text/plain"
    assert headers["Content-Length"] == "14"
    assert headers["Accept-Ranges"] == "bytes"
    st = os.stat(tree / "hello.txt")
    assert headers["ETag"] == f'"{st.st_size:x}-{st.st_mtime_ns:x}"'
    assert thttp.stringToDatetime(headers["Last-Modified"]) == int(st.st_mtime)


def test_typesOfWebFiles(served: Server) -> None:
    assert served.get("/app.js")[1]["Content-Type"] == "text/javascript"
    assert served.get("/page.html")[1]["Content-Type"] == "text/html"
    _status, headers, body = served.get("/archive.tar.gz")
    assert headers["Content-Type"] == "application/x-tar"
    assert headers["Content-Encoding"] == "gzip"
    assert body == b"\x1f\x8b fake"


def test_anUnknownExtensionGetsTheDefaultType(oneReactor: Any, tree: Path) -> None:
    assert Server(oneReactor, static.File(tree)).get("/noext")[1]["Content-Type"] == "text/html"
    safer = Server(oneReactor, static.File(tree, defaultType="application/octet-stream"))
    assert safer.get("/noext")[1]["Content-Type"] == "application/octet-stream"


def test_typesSetOnTheRootApplyBelowIt(oneReactor: Any, tree: Path) -> None:
    root = static.File(tree)
    root.contentTypes = {**static.File.contentTypes, ".txt": "text/plain; charset=utf-8"}
    served = Server(oneReactor, root)
    assert served.get("/sub/inner.txt")[1]["Content-Type"] == "text/plain; charset=utf-8"


def test_hiddenFilesAreServed(served: Server) -> None:
    assert served.get("/.hidden")[2] == b"dot file"


def test_aFileAsTheRootIsServedForItsOwnPath(oneReactor: Any, tree: Path) -> None:
    site = resource.Resource()
    site.putChild(b"hello", static.File(tree / "hello.txt"))
    served = Server(oneReactor, site)
    assert served.get("/hello")[2] == b"Hello, world!\n"
    assert served.get("/hello/more")[0] == 404


def test_missingFilesAre404(served: Server) -> None:
    status, _headers, body = served.get("/nope.txt")
    assert status == 404
    assert b"File not found" in body
    assert served.get("/hello.txt/child")[0] == 404
    assert served.get("/hello.txt/")[0] == 404


def test_headSendsTheHeadersOfGetWithoutTheBody(served: Server) -> None:
    status, headers, body = served.get("/big.bin", method="HEAD")
    assert status == 200
    assert body == b""
    assert headers["Content-Length"] == str(len(BIG))
    assert headers["Accept-Ranges"] == "bytes"
    status, headers, body = served.get("/big.bin", {"Range": "bytes=0-9"}, method="HEAD")
    assert (status, headers["Content-Length"], body) == (206, "10", b"")


def test_otherMethodsAreRefusedWithAllow(served: Server) -> None:
    status, headers, _ = served.get("/hello.txt", method="POST")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def test_dataServesItsBody(oneReactor: Any) -> None:
    site = resource.Resource()
    site.putChild(b"robots.txt", static.Data(b"User-agent: *\n", "text/plain"))
    served = Server(oneReactor, site)
    status, headers, body = served.get("/robots.txt")
    assert (status, headers["Content-Type"], body) == (200, "text/plain", b"User-agent: *\n")
    status, headers, body = served.get("/robots.txt", method="HEAD")
    assert (headers["Content-Length"], body) == ("14", b"")


def test_aPipelinedConnectionGoesOnAfterABigFile(served: Server) -> None:
    """Keep-alive: the response that sendfile or the producer sent ends cleanly."""

    def work() -> list[bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", served.number, timeout=10)
        bodies = []
        for path in ("/big.bin", "/hello.txt", "/big.bin"):
            connection.request("GET", path)
            bodies.append(connection.getresponse().read())
        connection.close()
        return bodies

    assert served.inThread(work) == [BIG, b"Hello, world!\n", BIG]
    assert len(served.site.channels) == 1


# -- directories -----------------------------------------------------------------------


def test_aDirectoryServesItsIndex(served: Server) -> None:
    assert served.get("/sub/")[2] == b"<h1>sub index</h1>"


def test_indexNamesAreTriedInOrder(oneReactor: Any, tree: Path) -> None:
    (tree / "sub" / "index.htm").write_bytes(b"htm")
    root = static.File(tree)
    root.indexNames = ["index.htm", "index.html"]
    assert Server(oneReactor, root).get("/sub/")[2] == b"htm"


def test_aDirectoryWithoutItsSlashRedirects(served: Server) -> None:
    status, headers, body = served.get("/sub?x=1&y=2")
    assert status == 301
    assert headers["Location"] == "./sub/?x=1&y=2"
    assert b'href="./sub/?x=1&amp;y=2"' in body


@needsCurl
def test_curlFollowsTheRedirectToTheIndex(served: Server) -> None:
    done = served.curl("-L", served.url("/sub"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"<h1>sub index</h1>"


def test_aDirectoryWithoutAnIndexIsListed(served: Server) -> None:
    status, headers, body = served.get("/list/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    page = body.decode()
    assert "Directory listing for /list/" in page
    assert '<a href="a.txt">a.txt</a>' in page
    assert '<a href="nested/">nested/</a>' in page
    assert page.index("nested/") < page.index("a.txt")  # directories first
    assert "[text/plain]" in page
    assert "1B" in page


def test_theListingEscapesEveryName(oneReactor: Any, tmp_path: Path) -> None:
    names = ["<script>", "<img src=x onerror=alert(1)>", 'a"b', "x&y", "50% off", "é.txt", "q?#"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    os.mkdir(os.fsencode(tmp_path) + b"/raw\xff")
    served = Server(oneReactor, static.File(tmp_path))
    page = served.get("/")[2].decode()
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and 'href="%3Cscript%3E"' in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"' in page
    assert 'href="a%22b"' in page and "a&quot;b" in page
    assert 'href="x%26y"' in page and "x&amp;y" in page
    assert 'href="50%25%20off"' in page
    assert 'href="%C3%A9.txt"' in page and "é.txt" in page
    assert 'href="q%3F%23"' in page
    assert 'href="raw%FF/"' in page
    # Each link leads to its file.
    for name in names:
        status, _, body = served.get("/" + __import__("urllib.parse").parse.quote(name))
        assert (status, body) == (200, b"x"), name


def test_theListingTitleIsEscaped(oneReactor: Any, tmp_path: Path) -> None:
    (tmp_path / "<b>").mkdir()
    served = Server(oneReactor, static.File(tmp_path))
    page = served.get("/%3Cb%3E/")[2].decode()
    assert "Directory listing for /&lt;b&gt;/" in page
    assert "<b>" not in page


def test_listingCanBeTurnedOff(oneReactor: Any, tree: Path) -> None:
    class NoListing(static.File):
        def directoryListing(self) -> Any:
            return self.forbidden

    served = Server(oneReactor, NoListing(tree))
    assert served.get("/list/")[0] == 403
    assert served.get("/sub/")[2] == b"<h1>sub index</h1>"


def test_anUnreadableDirectoryListingIsForbidden(oneReactor: Any, tmp_path: Path) -> None:
    if asRoot:
        pytest.skip("root reads every directory")
    closed = tmp_path / "closed"
    closed.mkdir()
    closed.chmod(0)
    try:
        assert Server(oneReactor, static.File(tmp_path)).get("/closed/")[0] == 403
    finally:
        closed.chmod(0o755)


def test_dotFilesCanBeRefusedByASubclass(oneReactor: Any, tree: Path) -> None:
    class NoDotFiles(static.File):
        def getChild(self, path: bytes, request: Any) -> Any:
            if path.startswith(b"."):
                return self.childNotFound
            return super().getChild(path, request)

    served = Server(oneReactor, NoDotFiles(tree))
    assert served.get("/.hidden")[0] == 404
    assert served.get("/hello.txt")[0] == 200


# -- names: extensions, processors --------------------------------------------------------


def test_ignoredExtensionsMayBeLeftOut(oneReactor: Any, tree: Path) -> None:
    root = static.File(tree, ignoredExts=[".html"])
    served = Server(oneReactor, root)
    assert served.get("/about")[2] == b"<p>about</p>"
    assert served.get("/hello")[0] == 404
    root.ignoreExt(".txt")
    assert served.get("/hello")[2] == b"Hello, world!\n"


def test_anyExtensionMayBeLeftOutWithStar(oneReactor: Any, tree: Path) -> None:
    served = Server(oneReactor, static.File(tree, allowExt=1))
    assert served.get("/hello")[2] == b"Hello, world!\n"
    assert served.get("/app")[2] == b"let a = 1;"


def test_processorsMakeTheResourceOfTheirExtension(oneReactor: Any, tree: Path) -> None:
    (tree / "greeting.tpl").write_text("Hi {name}")
    calls: list[tuple[str, Any]] = []

    def render(path: str, registry: static.Registry) -> Any:
        calls.append((path, registry))
        cached = registry.getCachedPath(path)
        if cached is None:
            text = Path(path).read_text().format(name="there").encode()
            cached = static.Data(text, "text/plain")
            registry.cachePath(path, cached)
        return cached

    root = static.File(tree)
    root.processors = {".tpl": render}
    served = Server(oneReactor, root)
    assert served.get("/greeting.tpl")[2] == b"Hi there"
    assert served.get("/greeting.tpl")[2] == b"Hi there"
    assert [path for path, _ in calls] == [str(tree / "greeting.tpl")] * 2
    assert all(registry is root.registry for _, registry in calls)
    assert served.get("/hello.txt")[2] == b"Hello, world!\n"


def test_aProcessorOnAnIndexName(oneReactor: Any, tree: Path) -> None:
    (tree / "list" / "index.tpl").write_text("dynamic index")
    root = static.File(tree)
    root.indexNames = ["index.tpl"]
    root.processors = {".tpl": lambda path, registry: static.Data(b"made", "text/plain")}
    assert Server(oneReactor, root).get("/list/")[2] == b"made"


def test_aProcessorMustMakeAResource(oneReactor: Any, tree: Path, loggedErrors: Any) -> None:
    (tree / "bad.tpl").write_text("")
    root = static.File(tree)
    root.processors = {".tpl": lambda path, registry: object()}
    assert Server(oneReactor, root).get("/bad.tpl")[0] == 500
    assert loggedErrors


# -- escaping the root -----------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/%2E%2E/secret.txt",
        b"/sub/../../secret.txt",
        b"/sub/%2e%2e/%2e%2e/secret.txt",
        b"/..%2fsecret.txt",
        b"/%2e%2e%2fsecret.txt",
        b"/..%5csecret.txt",
        b"/sub%5c..%5c..%5csecret.txt",
        b"/%2e%2e%5csecret.txt",
        b"/hello.txt%00.png",
        b"/%00",
        b"/.",
        b"/sub/./inner.txt",
    ],
)
def test_pathsThatLeaveTheRootAreRefused(served: Server, target: bytes) -> None:
    answer = served.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith((b"HTTP/1.1 404 ", b"HTTP/1.1 400 ")), answer[:100]
    assert b"SECRET" not in answer
    assert b"inner" not in answer


@pytest.fixture
def linked(tree: Path) -> Path:
    outside = tree.parent
    (outside / "elsewhere").mkdir()
    (outside / "elsewhere" / "file.txt").write_bytes(b"elsewhere")
    (tree / "toSecret").symlink_to(outside / "secret.txt")
    (tree / "toElsewhere").symlink_to(outside / "elsewhere")
    (tree / "toHello").symlink_to(tree / "hello.txt")
    (tree / "toSub").symlink_to("sub")
    (tree / "dangling").symlink_to(tree / "gone")
    (tree / "list" / "up").symlink_to("..")
    return tree


def test_symlinksThatLeaveTheRootAreForbidden(oneReactor: Any, linked: Path) -> None:
    served = Server(oneReactor, static.File(linked))
    status, _, body = served.get("/toSecret")
    assert status == 403 and b"SECRET" not in body
    assert served.get("/toElsewhere/file.txt")[0] == 403
    assert served.get("/toElsewhere/")[0] == 403
    assert served.get("/dangling")[0] == 404
    page = served.get("/")[2].decode()
    assert "toSecret" not in page and "toElsewhere" not in page
    assert "toHello" in page


def test_symlinksInsideTheRootAreFollowed(oneReactor: Any, linked: Path) -> None:
    served = Server(oneReactor, static.File(linked))
    assert served.get("/toHello")[2] == b"Hello, world!\n"
    assert served.get("/toSub/inner.txt")[2] == b"inner"
    assert served.get("/list/up/hello.txt")[2] == b"Hello, world!\n"


def test_aRootThatIsASymlinkStillServes(oneReactor: Any, linked: Path) -> None:
    alias = linked.parent / "alias"
    alias.symlink_to(linked)
    served = Server(oneReactor, static.File(alias))
    assert served.get("/toHello")[2] == b"Hello, world!\n"
    assert served.get("/toSecret")[0] == 403


def test_aRootLinkRepointedWhileServingServesTheNewTarget(oneReactor: Any, tmp_path: Path) -> None:
    """The deployment pattern: `current` links to a release, and is switched to the next."""
    for release in ("v1", "v2"):
        (tmp_path / release / "assets").mkdir(parents=True)
        (tmp_path / release / "assets" / "app.js").write_text(release)
        (tmp_path / release / "app.js").symlink_to("assets/app.js")
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "v1")
    served = Server(oneReactor, static.File(current))
    assert served.get("/app.js")[2] == b"v1"
    (tmp_path / "next").symlink_to(tmp_path / "v2")
    os.replace(tmp_path / "next", current)
    assert served.get("/app.js")[2] == b"v2"


def test_symlinksOutsideCanBeAllowed(oneReactor: Any, linked: Path) -> None:
    served = Server(oneReactor, static.File(linked, allowSymlinksOutside=True))
    assert served.get("/toSecret")[2] == b"TOP SECRET"
    assert served.get("/toElsewhere/file.txt")[2] == b"elsewhere"
    assert "toSecret" in served.get("/")[2].decode()
    # Still no way out by name.
    assert served.get("/%2e%2e/secret.txt")[0] == 404


# -- conditional requests ----------------------------------------------------------------


def test_ifNoneMatchWithTheETagIs304(served: Server) -> None:
    etag = served.get("/hello.txt")[1]["ETag"]
    status, headers, body = served.get("/hello.txt", {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag
    assert served.get("/hello.txt", {"If-None-Match": '"other", ' + etag})[0] == 304
    assert served.get("/hello.txt", {"If-None-Match": '"other"'})[0] == 200


def test_theETagChangesWithTheFile(served: Server, tree: Path) -> None:
    etag = served.get("/hello.txt")[1]["ETag"]
    (tree / "hello.txt").write_bytes(b"changed")
    status, headers, body = served.get("/hello.txt", {"If-None-Match": etag})
    assert (status, body) == (200, b"changed")
    assert headers["ETag"] != etag


def test_ifModifiedSince(served: Server, tree: Path) -> None:
    mtime = os.stat(tree / "hello.txt").st_mtime
    later = thttp.datetimeToString(mtime + 10).decode()
    earlier = thttp.datetimeToString(mtime - 10).decode()
    assert served.get("/hello.txt", {"If-Modified-Since": later})[:3:2] == (304, b"")
    assert served.get("/hello.txt", {"If-Modified-Since": earlier})[0] == 200
    assert served.get("/hello.txt", {"If-Modified-Since": "yesterday"})[0] == 200
    # If-None-Match decides when both are sent.
    both = {"If-Modified-Since": later, "If-None-Match": '"other"'}
    assert served.get("/hello.txt", both)[0] == 200


@needsCurl
def test_curlIfModifiedSince(served: Server, tree: Path) -> None:
    path = tree / "hello.txt"
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    done = served.curl(
        "-z",
        thttp.datetimeToString(time.time()).decode(),
        "-w",
        "%{http_code}",
        served.url("/hello.txt"),
    )
    assert (done.returncode, done.stdout) == (0, b"304"), done.stderr
    older = thttp.datetimeToString(time.time() - 7200).decode()
    done = served.curl("-z", older, served.url("/hello.txt"))
    assert done.stdout == b"Hello, world!\n"
    # -z FILE compares with that file's time.
    done = served.curl(
        "-z", str(path), "-w", "%{http_code}", "-o", os.devnull, served.url("/hello.txt")
    )
    assert done.stdout == b"304"


# -- ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=1020-5000", 1020, 1023),
        ("bytes=5-5", 5, 5),
    ],
)
def test_aSingleRangeIs206(served: Server, header: str, first: int, last: int) -> None:
    data = bytes(range(256)) * 4
    status, headers, body = served.get("/data.bin", {"Range": header})
    assert status == 206
    assert headers["Content-Range"] == f"bytes {first}-{last}/1024"
    assert headers["Content-Length"] == str(last - first + 1)
    assert headers["Content-Type"] == "application/octet-stream"
    assert body == data[first : last + 1]


def parseMultipart(headers: Any, body: bytes) -> list[tuple[str, str, bytes]]:
    """(Content-Type, Content-Range, payload) of each part of a multipart/byteranges body."""
    assert headers.get_content_type() == "multipart/byteranges"
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body
    )
    assert message.is_multipart()
    return [
        (part["Content-Type"], part["Content-Range"], part.get_payload(decode=True))
        for part in message.get_payload()
    ]


def test_severalRangesAreAMultipartBody(served: Server) -> None:
    data = bytes(range(256)) * 4
    status, headers, body = served.get("/data.bin", {"Range": "bytes=0-9,20-29,-5"})
    assert status == 206
    assert headers["Content-Length"] == str(len(body))
    assert "Content-Range" not in headers
    assert parseMultipart(headers, body) == [
        ("application/octet-stream", "bytes 0-9/1024", data[0:10]),
        ("application/octet-stream", "bytes 20-29/1024", data[20:30]),
        ("application/octet-stream", "bytes 1019-1023/1024", data[1019:]),
    ]
    boundary = headers.get_param("boundary")
    assert body.startswith(b"--" + boundary.encode() + b"\r\n")
    assert body.endswith(b"\r\n--" + boundary.encode() + b"--\r\n")


def test_overlappingRangesAreMergedIntoOne(served: Server) -> None:
    status, headers, _body = served.get("/data.bin", {"Range": "bytes=0-9,5-19"})
    assert (status, headers["Content-Range"]) == (206, "bytes 0-19/1024")


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_anUnsatisfiableRangeIs416(served: Server, header: str) -> None:
    status, headers, body = served.get("/data.bin", {"Range": header})
    assert status == 416
    assert headers["Content-Range"] == "bytes */1024"
    assert headers["Content-Length"] == str(len(body))
    assert b"1024 bytes" in body


@pytest.mark.parametrize(
    "header", ["bytes=abc", "bytes=9-3", "items=0-1", "bytes=", "0-10", "bytes=0-1,x"]
)
def test_anInvalidRangeIsIgnored(served: Server, header: str) -> None:
    status, headers, body = served.get("/data.bin", {"Range": header})
    assert status == 200
    assert len(body) == 1024
    assert "Content-Range" not in headers


def test_ifRangeHoldsOnlyForTheCurrentVersion(served: Server, tree: Path) -> None:
    first = served.get("/data.bin")[1]
    etag, modified = first["ETag"], first["Last-Modified"]
    assert served.get("/data.bin", {"Range": "bytes=0-0", "If-Range": etag})[0] == 206
    assert served.get("/data.bin", {"Range": "bytes=0-0", "If-Range": modified})[0] == 206
    assert served.get("/data.bin", {"Range": "bytes=0-0", "If-Range": '"old"'})[0] == 200
    assert served.get("/data.bin", {"Range": "bytes=0-0", "If-Range": "W/" + etag})[0] == 200
    assert served.get("/data.bin", {"Range": "bytes=0-0", "If-Range": "junk"})[0] == 200
    status, _, body = served.get(
        "/data.bin", {"Range": "bytes=0-0", "If-Range": "Sat, 01 Jan 2000 00:00:00 GMT"}
    )
    assert (status, len(body)) == (200, 1024)


def test_anEmptyFileIgnoresRanges(served: Server, tree: Path) -> None:
    (tree / "empty.txt").write_bytes(b"")
    status, headers, body = served.get("/empty.txt", {"Range": "bytes=0-10"})
    assert (status, headers["Content-Length"], body) == (200, "0", b"")


def test_aRangeOfACompressedFileIsOfItsBytes(served: Server) -> None:
    status, headers, body = served.get("/archive.tar.gz", {"Range": "bytes=0-1"})
    assert (status, headers["Content-Encoding"], body) == (206, "gzip", b"\x1f\x8b")


@needsCurl
def test_curlRanges(served: Server) -> None:
    data = bytes(range(256)) * 4
    done = served.curl("-r", "0-99", served.url("/data.bin"))
    assert (done.returncode, done.stdout) == (0, data[:100]), done.stderr
    done = served.curl("-r", "0-9,20-29", "-D", "-", served.url("/data.bin"))
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    assert b"206 Partial Content" in head
    assert b"multipart/byteranges; boundary=" in head
    assert b"Content-Range: bytes 0-9/1024\r\n\r\n" + data[0:10] in body
    assert b"Content-Range: bytes 20-29/1024\r\n\r\n" + data[20:30] in body
    done = served.curl("-r", "-10", served.url("/big.bin"))
    assert done.stdout == BIG[-10:]
    done = served.curl("-r", "5000-", "-w", "%{http_code}", served.url("/data.bin"))
    assert done.stdout.endswith(b"416")


# -- error paths ------------------------------------------------------------------------


def test_anUnreadableFileIsForbidden(oneReactor: Any, tree: Path) -> None:
    if asRoot:
        pytest.skip("root reads every file (test_aFileThatCannotBeOpenedIsForbidden covers it)")
    (tree / "hello.txt").chmod(0)
    assert Server(oneReactor, static.File(tree)).get("/hello.txt")[0] == 403


def test_aFileThatCannotBeOpenedIsForbidden(
    oneReactor: Any, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.open

    def refusing(path: Any, flags: int, *args: Any) -> int:
        if os.fsdecode(path).endswith("hello.txt"):
            raise PermissionError(13, "Permission denied", path)
        return real(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing)
    served = Server(oneReactor, static.File(tree))
    status, _, body = served.get("/hello.txt")
    assert status == 403 and b"Hello" not in body
    assert served.get("/page.html")[0] == 200


def test_aFileThatVanishedIs404(oneReactor: Any, tree: Path) -> None:
    site = resource.Resource()
    site.putChild(b"gone", static.File(tree / "hello.txt"))
    served = Server(oneReactor, site)
    assert served.get("/gone")[0] == 200
    (tree / "hello.txt").unlink()
    assert served.get("/gone")[0] == 404


def test_aFileThatVanishesBetweenStatAndOpenIs404(
    oneReactor: Any, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.open

    def vanishing(path: Any, flags: int, *args: Any) -> int:
        if os.fsdecode(path).endswith("hello.txt"):
            raise FileNotFoundError(2, "No such file or directory", path)
        return real(path, flags, *args)

    monkeypatch.setattr(os, "open", vanishing)
    assert Server(oneReactor, static.File(tree)).get("/hello.txt")[0] == 404


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_aFIFOIsForbiddenWithoutBlockingTheServer(oneReactor: Any, tree: Path) -> None:
    os.mkfifo(tree / "pipe")
    served = Server(oneReactor, static.File(tree))
    assert served.get("/pipe")[0] == 403
    assert served.get("/hello.txt")[0] == 200


@pytest.mark.parametrize("path", ["/hello.txt", "/data.bin"])
def test_aReadErrorOfASmallFileIs500(
    oneReactor: Any, tree: Path, monkeypatch: pytest.MonkeyPatch, loggedErrors: Any, path: str
) -> None:
    class Failing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def fileno(self) -> int:
            return int(self.inner.fileno())

        def seek(self, offset: int) -> None:
            self.inner.seek(offset)

        def read(self, size: int) -> bytes:
            raise OSError(5, "Input/output error")

        def close(self) -> None:
            self.inner.close()

    real = static.File.openForReading
    monkeypatch.setattr(static.File, "openForReading", lambda self: Failing(real(self)))
    served = Server(oneReactor, static.File(tree))
    assert served.get(path)[0] == 500
    assert served.get(path, {"Range": "bytes=0-1,5-6"})[0] == 500
    assert loggedErrors


# -- big files: sendfile, the producer, slow clients ---------------------------------------


def usesSendfile(reactor: Any) -> bool:
    return sys.platform.startswith("linux") and not getattr(reactor, "nativeTransports", False)


@pytest.mark.parametrize("useSendfile", [True, False], ids=["sendfile", "producer"])
def test_aBigFileArrivesWhole(reactor: Any, tree: Path, useSendfile: bool) -> None:
    root = static.File(tree)
    root.useSendfile = useSendfile
    served = Server(reactor, root)
    status, headers, body = served.get("/big.bin")
    assert (status, headers["Content-Length"], body == BIG) == (200, str(len(BIG)), True)
    status, headers, body = served.get("/big.bin", {"Range": "bytes=1000000-2999999"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 1000000-2999999/{len(BIG)}"
    assert body == BIG[1000000:3000000]
    status, headers, body = served.get("/big.bin", {"Range": "bytes=10-19,-100000"})
    assert parseMultipart(headers, body) == [
        ("application/octet-stream", f"bytes 10-19/{len(BIG)}", BIG[10:20]),
        (
            "application/octet-stream",
            f"bytes {len(BIG) - 100000}-{len(BIG) - 1}/{len(BIG)}",
            BIG[-100000:],
        ),
    ]


class SlowClient:
    """A raw socket with a small receive buffer that reads only when told to."""

    def __init__(self, served: Server, path: str) -> None:
        self.reactor = served.reactor
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        self.sock.connect(("127.0.0.1", served.number))
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        self.sock.setblocking(False)
        self.received = bytearray()
        self.closed = False

    def read(self, until: int, timeout: float = 20.0) -> None:
        """Read until `until` bytes (head included) came, or the server closed."""
        deadline = time.monotonic() + timeout
        while len(self.received) < until and not self.closed:
            if time.monotonic() > deadline:
                pytest.fail(f"only {len(self.received)} of {until} bytes came")
            try:
                data = self.sock.recv(min(65536, until - len(self.received)))
            except BlockingIOError:
                self.reactor.iterate(0.005)
                continue
            if not data:
                self.closed = True
            self.received += data

    def readBody(self, size: int, timeout: float = 20.0) -> None:
        """Read the head and `size` bytes of body (or until the server closes)."""
        self.read(200, timeout)
        head = bytes(self.received).partition(b"\r\n\r\n")[0]
        self.read(len(head) + 4 + size, timeout)

    @property
    def body(self) -> bytes:
        return bytes(self.received).partition(b"\r\n\r\n")[2]

    def close(self) -> None:
        self.sock.close()


def serverProgress(channel: Any) -> int:
    """How far into the file the server has read (or had the kernel send)."""
    request = channel.requests[0]
    if isinstance(request.producer, static.StaticProducer):
        position: int = request.producer.fileObject.tell()
        return position
    sender = channel.transport.producer
    assert isinstance(sender, tcp._FileSender), (request.producer, sender)
    return sender._offset


@pytest.fixture
def huge(tree: Path) -> int:
    size = 16 * 2**20
    with open(tree / "huge.bin", "wb") as f:
        f.truncate(size)
    return size


@pytest.mark.parametrize("useSendfile", [True, False], ids=["sendfile", "producer"])
def test_aSlowClientHoldsTheFileBackInsteadOfTheServersMemory(
    reactor: Any, tree: Path, huge: int, useSendfile: bool
) -> None:
    root = static.File(tree)
    root.useSendfile = useSendfile
    served = Server(reactor, root)
    client = SlowClient(served, "/huge.bin")
    try:
        client.read(200_000)
        channel = served.site.channels[0]
        transport = channel.transport
        if useSendfile and usesSendfile(reactor):
            assert isinstance(transport.producer, tcp._FileSender)
        most = 0
        for _ in range(25):  # the client reads nothing for a while
            reactor.iterate(0.01)
            most = max(most, transport.bufferedSize())
        assert most <= 2 * static.StaticProducer.bufferSize + 4096
        assert serverProgress(channel) < huge // 2
        client.readBody(huge)
        assert client.body == bytes(huge)
    finally:
        client.close()


@pytest.mark.parametrize("useSendfile", [True, False], ids=["sendfile", "producer"])
def test_aFileThatShrinksWhileSentCutsTheResponseShort(
    reactor: Any, tree: Path, huge: int, useSendfile: bool, loggedErrors: Any
) -> None:
    root = static.File(tree)
    root.useSendfile = useSendfile
    served = Server(reactor, root)
    client = SlowClient(served, "/huge.bin")
    try:
        client.read(200_000)
        os.truncate(tree / "huge.bin", huge // 2)
        client.readBody(huge, timeout=30)
        assert client.closed
        head = bytes(client.received).partition(b"\r\n\r\n")[0]
        assert b"Content-Length: %d" % huge in head
        assert len(client.body) == huge // 2
        runUntil(reactor, lambda: loggedErrors)
        assert "shrank" in str(loggedErrors[0].get("failure").value)
    finally:
        client.close()


def openDescriptorsOf(path: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            pass
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("useSendfile", [True, False], ids=["sendfile", "producer"])
def test_aClientThatLeavesMidwayClosesTheFile(
    reactor: Any, tree: Path, huge: int, useSendfile: bool, loggedErrors: Any
) -> None:
    root = static.File(tree)
    root.useSendfile = useSendfile
    served = Server(reactor, root)
    client = SlowClient(served, "/huge.bin")
    client.read(100_000)
    assert openDescriptorsOf(tree / "huge.bin") == 1
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()
    runUntil(reactor, lambda: openDescriptorsOf(tree / "huge.bin") == 0)
    assert not served.site.channels[0].requests
    assert loggedErrors == []


@pytest.mark.parametrize("useSendfile", [True, False], ids=["sendfile", "producer"])
def test_overTLSTheProducerSendsBigFiles(oneReactor: Any, tree: Path, useSendfile: bool) -> None:
    """sendfile would bypass TLS: the producer sends the file, encrypted."""
    from tests.internet.tlshelpers import pythonClientContext, serverOptions

    root = static.File(tree)
    root.useSendfile = useSendfile
    site = RecordingSite(root, reactor=oneReactor)
    port = oneReactor.listenSSL(0, site, serverOptions(), interface="127.0.0.1")
    served = Server.__new__(Server)
    served.reactor, served.site, served.port = oneReactor, site, port
    served.number = port.getHost().port

    def work() -> list[tuple[int, bytes]]:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", served.number, timeout=10, context=pythonClientContext()
        )
        answers = []
        for headers in ({}, {"Range": "bytes=100-2000099"}):
            connection.request("GET", "/big.bin", headers=headers)
            response = connection.getresponse()
            answers.append((response.status, response.read()))
        connection.close()
        return answers

    assert served.inThread(work, timeout=30) == [(200, BIG), (206, BIG[100:2000100])]


def test_resource_scripts_are_never_sent_as_files(tmp_path: Path) -> None:
    from tests.web.webtesting import MemorySite

    (tmp_path / "index.rpy").write_text("secret = 'hunter2'\n")
    (tmp_path / "tool.epy").write_text("secret = 'hunter2'\n")
    site = MemorySite(static.File(str(tmp_path)))
    listing = site.get(b"/")
    assert listing.code == 200 and b"hunter2" not in listing.body
    for name in (b"/index.rpy", b"/tool.epy"):
        response = site.get(name)
        assert response.code == 403 and b"hunter2" not in response.body


def test_a_saved_tree_leaves_its_script_cache_behind(tmp_path: Path) -> None:
    import pickle

    root = static.File(str(tmp_path))
    root.registry.cachePath(str(tmp_path / "x.rpy"), lambda: None)  # not picklable
    restored = pickle.loads(pickle.dumps(root))
    assert restored.registry.getCachedPath(str(tmp_path / "x.rpy")) is None
    assert root.registry.getCachedPath(str(tmp_path / "x.rpy")) is not None
