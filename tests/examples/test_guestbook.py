"""Runs examples/web/guestbook.py as a subprocess on 127.0.0.1 with a sqlite3 file, posts
entries with http.client and curl, and checks that they are stored, escaped in the page,
refused when empty, and still there after a restart; and the same with a real
PostgreSQL server (tests/enterprise/postgres.py) named by its URL."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.enterprise import postgres as _postgres
from tests.enterprise.postgres import DATABASE, USER, PostgresServer
from tests.examples.test_echoserv import LineReader

# The PostgreSQL fixtures of the adbapi tests, used here by name.
postgres = _postgres.postgres
postgresRunning = _postgres.postgresRunning

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "web" / "guestbook.py"
CURL = shutil.which("curl")


class Guestbook:
    """The example running on a free port with the database ``db``."""

    def __init__(self, db: Path | str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--port", "0", "--db", str(db)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        self.reader = LineReader(self.proc.stdout)
        line = self.reader.waitFor(r"guestbook on http://127\.0\.0\.1:\d+/", 30)
        self.port = int(line.split("127.0.0.1:")[1].split("/")[0])

    def request(self, method: str, fields: dict[str, str] | None = None) -> tuple[int, str, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            body = urllib.parse.urlencode(fields) if fields is not None else None
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            connection.request(method, "/", body=body, headers=headers)
            response = connection.getresponse()
            return (
                response.status,
                response.getheader("location") or "",
                response.read().decode("utf-8"),
            )
        finally:
            connection.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.reader.thread.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "guestbook.db"


@pytest.fixture
def book(db: Path) -> Iterator[Guestbook]:
    running = Guestbook(db)
    try:
        yield running
    finally:
        running.stop()


def test_postedEntryIsShownEscaped(book: Guestbook) -> None:
    status, _, page = book.request("GET")
    assert status == 200 and "<h1>Guestbook</h1>" in page
    status, location, _ = book.request(
        "POST", {"name": "Zoë <b>", "message": "<script>alert(1)</script> & hi"}
    )
    assert (status, location) == (303, "/")
    status, _, page = book.request("GET")
    assert "<b>Zoë &lt;b&gt;</b>: &lt;script&gt;alert(1)&lt;/script&gt; &amp; hi" in page
    assert "<script>" not in page


def test_emptyEntryIsRefused(book: Guestbook) -> None:
    status, _, page = book.request("POST", {"name": "Ann", "message": "  "})
    assert status == 400
    assert "Please give a name and a message." in page
    assert "<li>" not in book.request("GET")[2]


def test_tooLongEntryIsRefused(book: Guestbook) -> None:
    status, _, page = book.request("POST", {"name": "Ann", "message": "x" * 2001})
    assert status == 400 and "at most" in page


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
def test_curlPostAndEntriesSurviveARestart(db: Path) -> None:
    first = Guestbook(db)
    try:
        done = subprocess.run(
            [
                CURL or "curl",
                "-s",
                "-L",
                "-d",
                "name=Ann",
                "-d",
                "message=Hello there",
                f"http://127.0.0.1:{first.port}/",
            ],
            capture_output=True,
            timeout=20,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert b"<b>Ann</b>: Hello there" in done.stdout
    finally:
        first.stop()
    second = Guestbook(db)
    try:
        assert "<b>Ann</b>: Hello there" in second.request("GET")[2]
    finally:
        second.stop()


def test_unusableDatabaseIsReportedWithAnExitStatus(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--port", "0", "--db", str(tmp_path / "no" / "x.db")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "cannot start the guestbook on" in done.stderr
    assert "unable to open database file" in done.stderr


def test_aPostgreSQLDatabaseByItsURL(postgresRunning: PostgresServer) -> None:
    """``--db postgresql://...`` keeps the entries in a real PostgreSQL server."""
    url = f"postgresql://{USER}@127.0.0.1:{postgresRunning.port}/{DATABASE}"
    marker = f"from PostgreSQL {os.getpid()}"
    first = Guestbook(url)
    try:
        status, location, _ = first.request("POST", {"name": "Pia", "message": marker})
        assert (status, location) == (303, "/")
    finally:
        first.stop()
    second = Guestbook(url)
    try:
        assert f"<b>Pia</b>: {marker}" in second.request("GET")[2]
    finally:
        second.stop()
