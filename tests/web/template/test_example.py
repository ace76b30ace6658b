"""examples/web/templatepage.py runs as its docstring says and serves its page."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "web" / "templatepage.py"


def get(port: int, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.getheader("content-type") or "", answer.read()
    finally:
        connection.close()


def test_templatePageExample() -> None:
    child = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:"), (
            child.stderr.read() if child.stderr else line
        )
        port = int(line.rsplit(":", 1)[1].strip("/\n"))
        started = time.monotonic()
        status, contentType, body = get(port, "/?q=%3Cscript%3E")
        assert time.monotonic() - started >= 0.4, "the slow renderer did not wait"
        assert (status, contentType) == (200, "text/html; charset=utf-8")
        assert body.startswith(b"<!DOCTYPE html>\n<html>")
        assert b'<input name="q" value="&lt;script&gt;" />' in body
        assert b"<script>" not in body
        assert b"<li>The Mythical Man-Month</li>" in body
        body = get(port, "/?q=tcp")[2]
        assert b'<a href="/books/3">TCP/IP Illustrated &lt;Vol. 1&gt;</a>' in body
        assert b"Mythical" in body and b"/books/1" not in body
    finally:
        child.terminate()
        child.wait(10)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
