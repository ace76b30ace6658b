"""The seed's web examples (examples/web/), served by torsiond as their comments say.

Each runs ``torsiond`` as a child process on a free port of 127.0.0.1 (``--listen`` or
``--port`` with an interface, since the examples' own default, port 8080 of every
interface, may be taken) and is asked with http.client, each wait bounded. The .rpy
examples need torsion.web.script, and the tests skip, saying so, without it.
"""

from __future__ import annotations

import http.client
import importlib.util
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tap._torsiond import freePort, runTorsiond

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "web"
TORSION = Path(sys.executable).with_name("torsion")
ASCTIME = r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}"

needsScript = pytest.mark.skipif(
    importlib.util.find_spec("torsion.web.script") is None,
    reason="torsion.web.script is not here yet (branch webscript): the .rpy examples need it",
)


def get(
    port: int, path: str = "/", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        connection.close()


def copied(tmp_path: Path, *names: str) -> Path:
    for name in names:
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path


def listen(port: int) -> str:
    return f"tcp:{port}:interface=127.0.0.1"


def assertNoTraceback(output: list[str]) -> None:
    assert output and "Traceback" not in output[0], output


@needsScript
def test_ciRpy(tmp_path: Path) -> None:
    port = freePort()
    args = ["web", "--listen", listen(port), "--resource-script", "ci.rpy"]
    output: list[str] = []
    with runTorsiond(args, port, copied(tmp_path, "ci.rpy"), output):
        status, headers, body = get(port, "/")
        assert status == 200
        assert headers["Cache-Control"] == "no-cache, must-revalidate"
        assert re.fullmatch(rf"<p>ciao da /: {ASCTIME}</p>", body.decode()), body
        status, _, body = get(port, "/foo/")
        assert re.fullmatch(rf"<p>ciao da /foo/: {ASCTIME}</p>", body.decode()), body
        assert get(port, "/bar")[0] == 404
    assertNoTraceback(output)


def test_siteTacPutChild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = freePort()
    monkeypatch.setenv("TORSION_WEB_LISTEN", listen(port))
    directory = copied(tmp_path, "site.tac", "sitepages.py")
    output: list[str] = []
    with runTorsiond(["-y", "site.tac"], port, directory, output):
        status, _, body = get(port, "/")
        assert (status, body) == (200, b'<p>home page; see <a href="/foo/">/foo/</a></p>')
        assert get(port, "/foo/")[2] == b"<p>the foo page</p>"
        assert get(port, "/foo")[2] == b"<p>the foo page</p>"
        assert get(port, "/bar/")[0] == 404
    assertNoTraceback(output)


@needsScript
def test_visitsRpyCountsPerBrowser(tmp_path: Path) -> None:
    port = freePort()
    args = ["web", "--listen", listen(port), "--resource-script", "visits.rpy"]
    with runTorsiond(args, port, copied(tmp_path, "visits.rpy")):
        status, headers, body = get(port)
        assert (status, body) == (200, b"<p>visita n. 1 (1)</p>")
        cookie = headers["Set-Cookie"].split(";")[0]
        assert cookie.startswith("TORSION_SESSION=")
        assert "HttpOnly" in headers["Set-Cookie"]
        assert get(port, headers={"Cookie": cookie})[2] == b"<p>visita n. 2 (2)</p>"
        assert get(port, headers={"Cookie": cookie})[2] == b"<p>visita n. 3 (3)</p>"
        # Another browser (no cookie) starts its own count.
        status, headers, body = get(port)
        assert body == b"<p>visita n. 1 (1)</p>" and headers["Set-Cookie"].split(";")[0] != cookie


@needsScript
def test_laterRpyFinishesFromADeferred(tmp_path: Path) -> None:
    port = freePort()
    args = ["web", "--listen", listen(port), "--resource-script", "later.rpy"]
    output: list[str] = []
    with runTorsiond(args, port, copied(tmp_path, "later.rpy"), output):
        started = time.monotonic()
        status, headers, body = get(port)
        assert time.monotonic() - started >= 0.2
        assert (status, body) == (200, b"pronto dopo 0.2 secondi\n")
        assert headers["Transfer-Encoding"] == "chunked"
        # A client that leaves before the answer: the timer is cancelled, nothing fails.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as leaving:
            leaving.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.4)
        assert get(port)[2] == b"pronto dopo 0.2 secondi\n"
    assertNoTraceback(output)


@needsScript
def test_mktapWebResourceScriptThenTorsiondF(tmp_path: Path) -> None:
    """The seed's `mktap web --resource-script ci.rpy`, `twistd -f web.tap`, browse
    localhost: with --port on a free port of 127.0.0.1 instead of 8080."""
    port = freePort()
    directory = copied(tmp_path, "ci.rpy")
    done = subprocess.run(
        [str(TORSION), "mktap", "web", "--resource-script", "ci.rpy", "--port", listen(port)],
        cwd=directory, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert (directory / "web.tap").exists()
    output: list[str] = []
    with runTorsiond(["-f", "web.tap"], port, directory, output):
        host = {"Host": f"localhost:{port}"}
        status, _, body = get(port, "/", host)
        assert status == 200 and re.fullmatch(rf"<p>ciao da /: {ASCTIME}</p>", body.decode())
        body = get(port, "/foo/", host)[2]
        assert re.fullmatch(rf"<p>ciao da /foo/: {ASCTIME}</p>", body.decode())
    assertNoTraceback(output)
