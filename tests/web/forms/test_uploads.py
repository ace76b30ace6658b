"""File uploads: streamed to disk within their limit, removed after the request, bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

from tests.web.forms._formclient import BOUNDARY, FormClient, multipartBody
from torsion.web import forms
from torsion.web._http11 import Limits


def uploadSite(
    tmp_path: Path, onSuccess: Any = None, maxSize: int = 1000, **siteArguments: Any
) -> tuple[FormClient, list[forms.FormResult]]:
    class Avatar(forms.Form):
        uploadDirectory = str(tmp_path)
        name = forms.String(required=True)
        avatar = forms.File(maxSize=maxSize, accept=("image/png", ".gif"))

    seen: list[forms.FormResult] = []

    def succeeded(request: Any, result: forms.FormResult) -> Any:
        seen.append(result)
        if onSuccess is not None:
            return onSuccess(request, result)
        return None

    client = FormClient(forms.FormResource(Avatar(), succeeded), **siteArguments)
    client.get(b"/")
    return client, seen


def test_anUploadIsSavedAndRemovedWhenTheRequestFinishes(tmp_path: Path) -> None:
    during: list[tuple[bool, bytes]] = []

    def look(request: Any, result: forms.FormResult) -> None:
        upload = result.values["avatar"]
        during.append((upload.path.exists(), upload.read()))

    client, seen = uploadSite(tmp_path, look)
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\r\n--" + b"not the boundary"
    answer = client.submit(b"/", [("name", "Ann")], [("avatar", "me.png", "image/png", data)])
    assert answer.code == 303
    upload = seen[0].values["avatar"]
    assert isinstance(upload, forms.UploadedFile)
    assert (upload.filename, upload.contentType, upload.size) == ("me.png", "image/png", len(data))
    assert during == [(True, data)]
    assert not upload.path.exists()
    assert list(tmp_path.iterdir()) == []


def test_movedUploadsAreKept(tmp_path: Path) -> None:
    kept = tmp_path / "kept.png"

    def keep(request: Any, result: forms.FormResult) -> None:
        result.values["avatar"].moveTo(kept)

    client, _ = uploadSite(tmp_path, keep)
    client.submit(b"/", [("name", "Ann")], [("avatar", "a.png", "image/png", b"png!")])
    assert kept.read_bytes() == b"png!"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.png"]


def test_aFileOverItsLimitIsAFieldErrorAndNothingIsKept(tmp_path: Path) -> None:
    client, seen = uploadSite(tmp_path, maxSize=100)
    page = client.submit(b"/", [("name", "Ann")], [("avatar", "big.png", "image/png", b"x" * 101)])
    assert page.code == 400 and seen == []
    assert b"The file is larger than 100 bytes; choose a smaller one." in page.body
    assert b'value="Ann"' in page.body
    assert list(tmp_path.iterdir()) == []
    client.get(b"/")
    assert (
        client.submit(b"/", [("name", "A")], [("avatar", "ok.png", "image/png", b"x" * 100)]).code
        == 303
    )


def test_aFileOfTheWrongTypeIsAFieldError(tmp_path: Path) -> None:
    client, _seen = uploadSite(tmp_path)
    page = client.submit(
        b"/", [("name", "Ann")], [("avatar", "x.exe", "application/x-msdownload", b"MZ")]
    )
    assert page.code == 400 and b"Choose a file of type image/png, .gif." in page.body
    assert list(tmp_path.iterdir()) == []


def test_noFileChosenIsNone(tmp_path: Path) -> None:
    client, seen = uploadSite(tmp_path)
    assert (
        client.submit(
            b"/", [("name", "Ann")], [("avatar", "", "application/octet-stream", b"")]
        ).code
        == 303
    )
    assert seen[0].values["avatar"] is None


def test_theBrowsersPathIsNotPartOfTheFilename(tmp_path: Path) -> None:
    client, seen = uploadSite(tmp_path)
    client.submit(
        b"/", [("name", "A")], [("avatar", "C:\\\\Users\\\\me\\\\../x.png", "image/png", b"1")]
    )
    assert seen[0].values["avatar"].filename == "x.png"


def test_onlyTheFirstFileOfAFieldCounts(tmp_path: Path) -> None:
    client, seen = uploadSite(tmp_path)
    files = [("avatar", "1.png", "image/png", b"one"), ("avatar", "2.png", "image/png", b"two")]
    client.submit(b"/", [("name", "A")], files)
    assert seen[0].values["avatar"].filename == "1.png"


def test_aRefusedTokenRemovesTheUploads(tmp_path: Path) -> None:
    client, _seen = uploadSite(tmp_path)
    body = multipartBody(
        [("_csrf", "forged"), ("name", "A")], [("avatar", "a.png", "image/png", b"1" * 500)]
    )
    assert client.post(b"/", body, b"multipart/form-data; boundary=" + BOUNDARY).code == 403
    assert list(tmp_path.iterdir()) == []


def test_aBodyCutInsideAFileRemovesIt(tmp_path: Path) -> None:
    client, _ = uploadSite(tmp_path)
    body = multipartBody(
        [("_csrf", client.token())], [("avatar", "a.png", "image/png", b"1" * 500)]
    )[:-60]
    page = client.post(b"/", body, b"multipart/form-data; boundary=" + BOUNDARY)
    assert page.code == 400 and b"closing boundary" in page.body
    assert list(tmp_path.iterdir()) == []


def test_aFileSentUrlencodedIsNoUpload(tmp_path: Path) -> None:
    client, seen = uploadSite(tmp_path)
    assert client.submit(b"/", [("name", "A"), ("avatar", "/etc/passwd")]).code == 303
    assert seen[0].values["avatar"] is None


def test_a100MBUploadNeverSitsInMemory(tmp_path: Path) -> None:
    size = 100 * 1024 * 1024
    sizes: list[int] = []

    def look(request: Any, result: forms.FormResult) -> None:
        upload = result.values["avatar"]
        sizes.append(upload.size)
        with upload.open() as f:
            f.seek(size - 3)
            sizes.append(len(f.read()))

    limits = Limits(maxBodySize=size + 65536)
    client, _seen = uploadSite(tmp_path, look, maxSize=size, limits=limits)
    token = client.token()
    head = multipartBody([("_csrf", token), ("name", "Big")])[: -len(BOUNDARY) - 6]
    head += (
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="avatar"; filename="b.png"'
        b"\r\nContent-Type: image/png\r\n\r\n"
    )
    tail = b"\r\n--" + BOUNDARY + b"--\r\n"
    length = len(head) + size + len(tail)
    memory = client.memory
    memory.transport.clear()
    piece = b"\xab" * (256 * 1024)
    tracemalloc.start()
    try:
        memory.send(
            b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Type: multipart/form-data; boundary="
            + BOUNDARY
            + b"\r\nContent-Length: %d\r\n" % length
            + client._cookieHeader()
            + b"\r\n"
        )
        memory.send(head)
        for _ in range(size // len(piece)):
            memory.send(piece)
        memory.send(tail)
        # The copy lets the reactor run every megabyte: it is not done in one go.
        assert memory.responses() == []
        for _ in range(100000):
            if memory.responses():
                break
            memory.clock.advance(0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (response,) = memory.responses()
    assert response.code == 303, response.body
    assert sizes == [size, 3]
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak} bytes for a 100 MB upload"
    assert list(tmp_path.iterdir()) == []


def test_aClientThatLeavesDuringTheCopyGetsNoOnSuccessAndLeavesNoFiles(tmp_path: Path) -> None:
    client, seen = uploadSite(tmp_path, maxSize=10**6)
    resource = client.site.resource
    resource.form.yieldEvery = 1024
    body = multipartBody(
        [("_csrf", client.token()), ("name", "Gone")],
        [("avatar", "a.png", "image/png", b"p" * 200_000)],
    )
    memory = client.memory
    memory.send(
        b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Type: multipart/form-data; boundary="
        + BOUNDARY
        + b"\r\nContent-Length: %d\r\n" % len(body)
        + client._cookieHeader()
        + b"\r\n"
        + body
    )
    assert seen == [] and list(tmp_path.iterdir())  # the copy waits for the reactor
    memory.transport.loseConnection()
    memory.channel.connectionLost(Exception("gone"))
    for _ in range(1000):
        memory.clock.advance(0)
    assert seen == []
    assert list(tmp_path.iterdir()) == []
