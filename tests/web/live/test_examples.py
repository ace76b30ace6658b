"""The live examples run as their docstrings say (``python examples/web/livechat.py
--port N``): each serves its page, with the client script and the page's own script, on
127.0.0.1. What the pages do in a browser is tested in test_chromium.py."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tap._torsiond import freePort, waitForListening

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "web"


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize(("name", "script"), [("livechat", "chat.js"), ("liveclock", "clock.js")])
def test_exampleServesItsPage(name: str, script: str) -> None:
    port = freePort()
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        waitForListening(port, process)
        status, page = get(port, "/")
        assert status == 200
        assert b'data-element="' in page
        assert b'src="/_live.js?v=' in page
        assert get(port, "/_live.js")[0] == 200
        status, body = get(port, "/" + script)
        assert (status, b"torsion.expose" in body) == (200, True)
    finally:
        process.kill()
        process.wait(10)
