"""examples/web/formsignup.py: served on 127.0.0.1, filled in with curl, avatar kept."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.web import _webhelpers
from tests.web._webhelpers import listenSite, runCommand

oneReactor = _webhelpers.oneReactor
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "web" / "formsignup.py"
CURL = shutil.which("curl")


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("formsignup", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("formsignup", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
def test_signupWithAnAvatar(oneReactor: Any, tmp_path: Path) -> None:
    avatars = tmp_path / "avatars"
    avatars.mkdir()
    port = listenSite(oneReactor, example().makeSite(avatars, oneReactor))
    url = f"http://127.0.0.1:{port}"
    jar = str(tmp_path / "jar")

    def curl(*arguments: str) -> bytes:
        done = runCommand(
            oneReactor, [CURL or "curl", "-s", "-L", "-b", jar, "-c", jar, *arguments], timeout=20
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    page = curl(url + "/")
    assert b"<h1>Sign up</h1>" in page and b'enctype="multipart/form-data"' in page
    token = re.search(rb'name="_csrf" value="([^"]+)"', page)
    assert token is not None
    picture = tmp_path / "me.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 1000)
    fields = [
        "-F",
        "_csrf=" + token.group(1).decode(),
        "-F",
        "name=Ann <Admin>",
        "-F",
        "email=ann@example.com",
        "-F",
        "password=correct-horse",
        "-F",
        "agree=on",
    ]
    wrong = curl(*fields, "-F", "again=other", url + "/")
    assert b"The two passwords differ." in wrong
    landed = curl(
        *fields, "-F", "again=correct-horse", "-F", f"avatar=@{picture};type=image/png", url + "/"
    )
    assert b"Welcome, Ann &lt;Admin&gt;!" in landed and b"<h1>Members</h1>" in landed
    (kept,) = avatars.iterdir()
    assert kept.suffix == ".png" and kept.read_bytes() == picture.read_bytes()
    assert b"Welcome" not in curl(url + "/members")
