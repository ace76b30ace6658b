"""The access log: combined-format lines to a file, or lazy events on torsion's log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from torsion.logger import formatEvent, globalLogPublisher
from torsion.web import _accesslog, http, resource, server

from .webtesting import MemorySite


class Page(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"page"


def test_lines_go_to_torsions_log_once_logging_has_begun(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        site = MemorySite(Page())
        monkeypatch.setattr(_accesslog, "_loggingHasBegun", lambda: False)
        site.get(b"/before")
        monkeypatch.setattr(_accesslog, "_loggingHasBegun", lambda: True)
        site.get(b"/after", headers=b"User-Agent: test-agent\r\n")
    finally:
        globalLogPublisher.removeObserver(events.append)
    access = [e for e in events if e.get("log_namespace") == "torsion.web.access"]
    assert len(access) == 1
    line = formatEvent(access[0])
    assert line.startswith("127.0.0.1 - - [")
    assert line.endswith('"GET /after HTTP/1.1" 200 4 "-" "test-agent"')


def test_a_custom_formatter_and_the_proxied_formatter(tmp_path: Path) -> None:
    path = tmp_path / "log"
    site = server.Site(Page(), logPath=str(path), logFormatter=http.proxiedLogFormatter)
    site.startFactory()
    MemorySite(site=site).get(b"/", headers=b"X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\n")
    site.stopFactory()
    assert path.read_text().startswith("192.0.2.7 - - [")


def test_a_log_file_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_text("earlier line\n")
    for _ in range(2):
        site = server.Site(Page(), logPath=str(path))
        site.startFactory()
        MemorySite(site=site).get(b"/x")
        site.stopFactory()
    lines = path.read_text().splitlines()
    assert lines[0] == "earlier line" and len(lines) == 3
