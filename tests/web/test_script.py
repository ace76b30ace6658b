"""Tests for torsion.web.script: .rpy resource scripts and .epy Python scripts.

The seed's .rpy example (a resource that sets Cache-Control, shows request.prepath
and the time, and is its own '' and 'foo' child) is served here as the talk serves
it, from `mktap web --resource-script ci.rpy`'s root: a ResourceScriptWrapper.
"""

from __future__ import annotations

import os
import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.internet.reactormixins import loggedErrors
from tests.web.livesite import errorsLogged, fetch, oneReactor, serve
from torsion.web import resource, script, static

__all__ = ["loggedErrors", "oneReactor"]

SEED_EXAMPLE = """\
import time

from torsion.web import resource


class Ciao(resource.Resource):
    def render_GET(self, request):
        request.setHeader("cache-control", "no-cache, must-revalidate")
        return ("<p>ciao da %s: %s</p>" % (request.prepath, time.asctime())).encode()


resource = Ciao()
resource.putChild("", resource)
resource.putChild("foo", resource)
"""

COUNTING = """\
from torsion.web import resource as _resource

registry.runs = getattr(registry, "runs", 0) + 1


class Page(_resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        return b"%s run %d" % (VERSION, registry.runs)


resource = Page()
"""


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def bump(path: Path, source: str) -> None:
    """Rewrite `path` and move its mtime on, so a change is seen even within one tick."""
    before = path.stat().st_mtime_ns
    path.write_text(source, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


# -- the seed's example -----------------------------------------------------------------------


def test_seedExampleServedAsTheSiteRoot(oneReactor: Any, tmp_path: Path) -> None:
    ciao = write(tmp_path / "ci.rpy", SEED_EXAMPLE)
    port, _ = serve(oneReactor, script.ResourceScriptWrapper(str(ciao)))
    before = time.time()
    home = fetch(oneReactor, port, "/")
    foo = fetch(oneReactor, port, "/foo/")
    for answer in (home, foo):
        assert answer.status == 200
        assert answer.header("Cache-Control") == "no-cache, must-revalidate"
    assert home.body.startswith(b"<p>ciao da [b'']: ")
    assert foo.body.startswith(b"<p>ciao da [b'foo', b'']: ")
    shown = re.search(rb": (.+)</p>", foo.body)
    assert shown is not None
    when = time.mktime(time.strptime(shown.group(1).decode(), "%a %b %d %H:%M:%S %Y"))
    assert before - 2 <= when <= time.time() + 2
    assert fetch(oneReactor, port, "/bar").status == 404


# -- running and caching ----------------------------------------------------------------------


def test_scriptRunsOnceUntilTheFileChanges(oneReactor: Any, tmp_path: Path) -> None:
    page = write(tmp_path / "count.rpy", 'VERSION = b"one"\n' + COUNTING)
    port, _ = serve(oneReactor, script.ResourceScriptWrapper(str(page)))
    assert fetch(oneReactor, port, "/").body == b"one run 1"
    assert fetch(oneReactor, port, "/").body == b"one run 1"
    bump(page, 'VERSION = b"two"\n' + COUNTING)
    assert fetch(oneReactor, port, "/").body == b"two run 2"
    assert fetch(oneReactor, port, "/").body == b"two run 2"


def test_scriptGlobals(tmp_path: Path) -> None:
    page = write(
        tmp_path / "globals.rpy",
        """\
        from torsion.web import resource as r
        cache()
        recache()
        class Seen(r.Resource):
            isLeaf = True
        resource = Seen()
        resource.seen = (__file__, registry, __name__)
        """,
    )
    registry = static.Registry()
    made = script.ResourceScript(str(page), registry)
    assert made.seen[0] == str(page)
    assert made.seen[1] is registry
    assert made.seen[2] != "__main__"
    assert script.ResourceScript(os.fsencode(page), registry) is made


def test_noRegistryRunsTheScriptEachTime(tmp_path: Path) -> None:
    page = write(
        tmp_path / "each.rpy", "from torsion.web.resource import Resource\nresource = Resource()\n"
    )
    assert script.ResourceScript(str(page), None) is not script.ResourceScript(str(page), None)


def test_missingScriptIs404(oneReactor: Any, tmp_path: Path) -> None:
    port, _ = serve(oneReactor, script.ResourceScriptWrapper(str(tmp_path / "gone.rpy")))
    assert fetch(oneReactor, port, "/").status == 404


def test_scriptCompiledWithoutOurFutureImports(tmp_path: Path) -> None:
    page = write(
        tmp_path / "ann.rpy",
        """\
        from torsion.web.resource import Resource
        def f(x: int) -> int: return x
        resource = Resource()
        resource.annotation = f.__annotations__["x"]
        """,
    )
    assert script.ResourceScript(str(page), None).annotation is int


# -- errors: a 500 page, a logged error, and the server goes on --------------------------------


BROKEN_SCRIPTS = {
    "raises": ("raise RuntimeError('the <script> broke')\n", "the <script> broke"),
    "noResource": ("x = 1\n", "did not assign a resource"),
    "notAResource": ("resource = 42\n", "not a resource"),
    "syntaxError": ("def (:\n", "SyntaxError"),
    "exits": ("import sys\nsys.exit(3)\n", "called sys.exit(3)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_SCRIPTS))
def test_brokenScriptIs500AndLogged(
    oneReactor: Any, tmp_path: Path, loggedErrors: Any, case: str
) -> None:
    source, logged = BROKEN_SCRIPTS[case]
    page = write(tmp_path / "broken.rpy", source)
    root = resource.Resource()
    root.putChild(b"broken", script.ResourceScriptWrapper(str(page)))
    port, _ = serve(oneReactor, root)
    answer = fetch(oneReactor, port, "/broken")
    assert answer.status == 500
    assert b"Traceback" not in answer.body
    assert b"broke" not in answer.body
    assert logged in errorsLogged(loggedErrors)
    # The server still serves; the script is tried again (it may have been fixed).
    bump(page, "from torsion.web.resource import NoResource\nresource = NoResource('fixed')\n")
    assert b"fixed" in fetch(oneReactor, port, "/broken").body


def test_tracebackShownWithDisplayTracebacks(
    oneReactor: Any, tmp_path: Path, loggedErrors: Any
) -> None:
    page = write(tmp_path / "broken.rpy", "raise RuntimeError('the <script> broke')\n")
    port, site = serve(oneReactor, script.ResourceScriptWrapper(str(page)))
    site.displayTracebacks = True
    answer = fetch(oneReactor, port, "/")
    assert answer.status == 500
    assert b"Traceback" in answer.body
    assert b"the &lt;script&gt; broke" in answer.body
    assert b"broken.rpy" in answer.body


def test_scriptTooLargeIsRefused(tmp_path: Path) -> None:
    page = tmp_path / "huge.rpy"
    with open(page, "wb") as f:
        f.truncate(script._MAX_SCRIPT_BYTES + 1)
    with pytest.raises(ValueError, match="over"):
        script.ResourceScript(str(page), None)


# -- ResourceScriptDirectory ------------------------------------------------------------------


HELLO = """\
from torsion.web.resource import Resource
class Hello(Resource):
    isLeaf = True
    def render_GET(self, request):
        name = __file__.rsplit("/", 1)[-1].encode()
        return b"hello from " + name + b" " + b"/".join(request.postpath)
resource = Hello()
"""


def test_resourceScriptDirectory(oneReactor: Any, tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    (scripts / "sub").mkdir(parents=True)
    write(scripts / "app", HELLO)
    write(scripts / "sub" / "deep", HELLO)
    write(scripts / ".hidden", HELLO)
    write(tmp_path / "secret", HELLO)
    root = resource.Resource()
    root.putChild(b"s", script.ResourceScriptDirectory(str(scripts)))
    port, _ = serve(oneReactor, root)
    assert fetch(oneReactor, port, "/s/app/x/y").body == b"hello from app x/y"
    assert fetch(oneReactor, port, "/s/sub/deep").body == b"hello from deep "
    for path in (
        "/s/",
        "/s",
        "/s/nothing",
        "/s/.hidden",
        "/s/%2e%2e/secret",
        "/s/sub%2f..%2f..%2fsecret",
    ):
        assert fetch(oneReactor, port, path).status == 404, path


# -- PythonScript (.epy) ------------------------------------------------------------------------


def epySite(reactor: Any, tmp_path: Path, source: str) -> int:
    page = write(tmp_path / "page.epy", source)
    root = resource.Resource()
    root.putChild(b"page.epy", script.PythonScript(str(page), None))
    port, _ = serve(reactor, root)
    return port


def test_pythonScriptWritesThePage(oneReactor: Any, tmp_path: Path) -> None:
    port = epySite(
        oneReactor,
        tmp_path,
        """\
        request.setHeader(b"content-type", b"text/plain")
        request.write(b"name=" + request.args[b"name"][0])
        request.write(b" file=" + __file__.rsplit("/", 1)[-1].encode())
        """,
    )
    answer = fetch(oneReactor, port, "/page.epy?name=ada")
    assert answer.status == 200
    assert answer.header("Content-Type") == "text/plain"
    assert answer.body == b"name=ada file=page.epy"


def test_pythonScriptRunsOnEveryRequest(oneReactor: Any, tmp_path: Path) -> None:
    port = epySite(
        oneReactor,
        tmp_path,
        "import time\nrequest.write(str(time.perf_counter_ns()).encode())\n",
    )
    assert fetch(oneReactor, port, "/page.epy").body != fetch(oneReactor, port, "/page.epy").body


def test_pythonScriptThatFinishesItself(oneReactor: Any, tmp_path: Path) -> None:
    port = epySite(oneReactor, tmp_path, "request.write(b'done')\nrequest.finish()\n")
    assert fetch(oneReactor, port, "/page.epy").body == b"done"


def test_pythonScriptErrorBeforeWritingIs500(
    oneReactor: Any, tmp_path: Path, loggedErrors: Any
) -> None:
    port = epySite(oneReactor, tmp_path, "raise KeyError('epy broke')\n")
    answer = fetch(oneReactor, port, "/page.epy")
    assert answer.status == 500
    assert b"epy broke" not in answer.body
    assert "epy broke" in errorsLogged(loggedErrors)
    assert fetch(oneReactor, port, "/page.epy").status == 500  # and the server goes on


def test_pythonScriptErrorAfterWritingCutsTheResponse(
    oneReactor: Any, tmp_path: Path, loggedErrors: Any
) -> None:
    port = epySite(oneReactor, tmp_path, "request.write(b'partial')\nraise KeyError('late')\n")
    answer = fetch(oneReactor, port, "/page.epy")
    assert answer.status == 200
    assert answer.error is not None  # the client sees the response is incomplete
    assert "late" in errorsLogged(loggedErrors)


def test_pythonScriptExitingIs500(oneReactor: Any, tmp_path: Path, loggedErrors: Any) -> None:
    port = epySite(oneReactor, tmp_path, "raise SystemExit(1)\n")
    assert fetch(oneReactor, port, "/page.epy").status == 500
    assert "sys.exit(1)" in errorsLogged(loggedErrors)


def test_pythonScriptMissingIs404(oneReactor: Any, tmp_path: Path) -> None:
    root = resource.Resource()
    root.putChild(b"gone.epy", script.PythonScript(str(tmp_path / "gone.epy"), None))
    port, _ = serve(oneReactor, root)
    assert fetch(oneReactor, port, "/gone.epy").status == 404


def test_pythonScriptSyntaxErrorIs500(oneReactor: Any, tmp_path: Path, loggedErrors: Any) -> None:
    port = epySite(oneReactor, tmp_path, "if:\n")
    assert fetch(oneReactor, port, "/page.epy").status == 500
    assert "SyntaxError" in errorsLogged(loggedErrors)


# -- through torsion.web.static.File's processors -----------------------------------------------


def test_staticFileRunsScriptsAsProcessors(oneReactor: Any, tmp_path: Path) -> None:
    write(tmp_path / "ci.rpy", SEED_EXAMPLE)
    write(tmp_path / "page.epy", "request.write(b'epy here')\n")
    (tmp_path / "plain.txt").write_bytes(b"just text")
    root = static.File(str(tmp_path))
    root.processors = {".rpy": script.ResourceScript, ".epy": script.PythonScript}
    port, _ = serve(oneReactor, root)
    ciao = fetch(oneReactor, port, "/ci.rpy/foo/")
    assert ciao.status == 200
    assert ciao.header("Cache-Control") == "no-cache, must-revalidate"
    assert ciao.body.startswith(b"<p>ciao da [b'ci.rpy', b'foo', b'']: ")
    assert fetch(oneReactor, port, "/page.epy").body == b"epy here"
    assert fetch(oneReactor, port, "/plain.txt").body == b"just text"
    # Without processors, a script is never run (served as a file, or refused).
    unprocessed = static.File(str(tmp_path))
    port, _ = serve(oneReactor, unprocessed)
    assert b"ciao da [" not in fetch(oneReactor, port, "/ci.rpy/foo/").body
    assert fetch(oneReactor, port, "/page.epy").body != b"epy here"
