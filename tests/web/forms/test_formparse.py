"""The submission reader: the same fields wherever its chunks cut the body."""

from __future__ import annotations

import io
import urllib.parse
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.web.forms._formclient import BOUNDARY, multipartBody
from torsion.internet import defer
from torsion.web import _formparse, forms


class FakeRequest:
    def __init__(self, body: bytes, contentType: bytes) -> None:
        self.content = io.BytesIO(body)
        self.contentType = contentType
        self.uri = b"/"

    def getHeader(self, name: bytes) -> bytes:
        return self.contentType


FIELDS: dict[str, Any] = {name: forms.String() for name in ("a", "b", "ü", "x y")}
for _name, _field in FIELDS.items():
    _field.name = _name


def read(body: bytes, contentType: bytes, **limits: Any) -> _formparse.Submission:
    d = defer.ensureDeferred(
        _formparse.readSubmission(
            FakeRequest(body, contentType),
            FIELDS,
            maxFields=limits.get("maxFields", 1000),
            maxFieldSize=limits.get("maxFieldSize", 1000),
        )
    )
    result: list[Any] = []
    d.addBoth(result.append)
    if isinstance(result[0], BaseException) or hasattr(result[0], "raiseException"):
        result[0].raiseException()
    submission: _formparse.Submission = result[0]
    return submission


pairs = st.lists(
    st.tuples(st.sampled_from(["a", "b", "ü", "x y", "other"]), st.text(max_size=30)), max_size=12
)


@settings(max_examples=200, deadline=None)
@given(pairs, st.integers(min_value=1, max_value=50))
def test_urlencodedGivesTheFieldsWhateverTheChunkSize(
    sent: list[tuple[str, str]], chunk: int
) -> None:
    body = urllib.parse.urlencode(sent).encode()
    expected: dict[str, list[str]] = {}
    for name, value in sent:
        if name in FIELDS:
            expected.setdefault(name, []).append(value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_formparse, "CHUNK", chunk)
        got = read(body, b"application/x-www-form-urlencoded")
    assert got.texts == expected and got.problems == {}


@settings(max_examples=100, deadline=None)
@given(pairs, st.integers(min_value=1, max_value=50))
def test_multipartGivesTheFieldsWhateverTheChunkSize(
    sent: list[tuple[str, str]], chunk: int
) -> None:
    body = multipartBody(sent)
    expected: dict[str, list[str]] = {}
    for name, value in sent:
        if name in FIELDS:
            expected.setdefault(name, []).append(value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_formparse, "CHUNK", chunk)
        got = read(body, b"multipart/form-data; boundary=" + BOUNDARY)
    assert got.texts == expected and got.problems == {}


@pytest.mark.parametrize("chunk", [1, 3, 64 * 1024])
def test_anOverlongUrlencodedValueIsSkippedToTheNextField(chunk: int) -> None:
    body = b"a=" + b"%41" * 2000 + b"&b=ok"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_formparse, "CHUNK", chunk)
        got = read(body, b"application/x-www-form-urlencoded", maxFieldSize=100)
    assert got.texts == {"b": ["ok"]}
    assert got.problems == {"a": "This value is longer than 100 bytes."}


def part(name: bytes, headers: bytes, content: bytes) -> bytes:
    return (
        b"--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="'
        + name
        + b'"'
        + headers
        + b"\r\n\r\n"
        + content
        + b"\r\n"
    )


def test_aTextPartMayDeclareItsOwnCharset() -> None:
    body = part(b"a", b"\r\nContent-Type: text/plain; charset=iso-8859-1", b"caf\xe9")
    got = read(body + b"--" + BOUNDARY + b"--", b"multipart/form-data; boundary=" + BOUNDARY)
    assert got.texts == {"a": ["café"]}


def test_aPartsUnknownCharsetIs415() -> None:
    body = part(b"a", b"\r\nContent-Type: text/plain; charset=martian", b"x")
    with pytest.raises(Exception, match="415"):
        read(body + b"--" + BOUNDARY + b"--", b"multipart/form-data; boundary=" + BOUNDARY)


def test_unknownPartsAreNotKept() -> None:
    body = part(b"zzz", b'; filename="f"', b"x" * 5000) + part(b"b", b"", b"kept")
    got = read(body + b"--" + BOUNDARY + b"--", b"multipart/form-data; boundary=" + BOUNDARY)
    assert got.texts == {"b": ["kept"]} and got.uploads == {} and got.directory is None


def test_problemsOfFieldsTheFormHasNotAreIgnored() -> None:
    body = b"zzz=" + b"%41" * 2000 + b"&nope=%FF&b=ok"
    got = read(body, b"application/x-www-form-urlencoded", maxFieldSize=100)
    assert got.texts == {"b": ["ok"]} and got.problems == {}
