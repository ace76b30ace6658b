"""The streaming multipart parser: events, limits, hostile bytes, and chunking invariance."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.web._multipart import (
    PART_END,
    MultipartError,
    MultipartParser,
    PartStart,
    boundaryOf,
    parseMultipartParts,
)

BOUNDARY = b"xYzZY"


def build(parts: list[tuple[bytes, bytes | None, bytes]], boundary: bytes = BOUNDARY) -> bytes:
    out = [b"preamble to ignore\r\n"]
    for name, filename, content in parts:
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        out.append(b"--" + boundary + b"\r\n" + disposition + b"\r\n\r\n" + content + b"\r\n")
    out.append(b"--" + boundary + b"--\r\nepilogue")
    return b"".join(out)


def merged(events: list[Any]) -> list[Any]:
    """Events with consecutive content chunks joined (how they are cut is not fixed)."""
    out: list[Any] = []
    for event in events:
        if isinstance(event, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += event
        else:
            out.append(event)
    return out


def parseIn(body: bytes, cuts: list[int], **limits: int) -> list[Any]:
    parser = MultipartParser(BOUNDARY, **limits)
    events: list[Any] = []
    position = 0
    for cut in sorted(cuts):
        events += parser.feed(body[position:cut])
        position = cut
    events += parser.feed(body[position:])
    events += parser.close()
    return merged(events)


def test_eventsOfAFieldAndAFile() -> None:
    body = build([(b"a", None, b"1"), (b"up", b"f.txt", b"line\r\nline\r\n"), (b"e", None, b"")])
    assert parseIn(body, []) == [
        PartStart(b"a", None, None, [(b"content-disposition", b'form-data; name="a"')]),
        b"1",
        PART_END,
        PartStart(
            b"up",
            b"f.txt",
            None,
            [(b"content-disposition", b'form-data; name="up"; filename="f.txt"')],
        ),
        b"line\r\nline\r\n",
        PART_END,
        PartStart(b"e", None, None, [(b"content-disposition", b'form-data; name="e"')]),
        PART_END,
    ]


def test_contentIsNeverHeldBeyondABoundarysLength() -> None:
    parser = MultipartParser(BOUNDARY)
    parser.feed(b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="f"\r\n\r\n')
    out = 0
    for _ in range(100):
        out += sum(len(e) for e in parser.feed(b"x" * 10000) if isinstance(e, bytes))
        assert len(parser._buffer) < len(BOUNDARY) + 4
    assert out > 1000000 - 10


def test_extendedFilenameParameter() -> None:
    body = (
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="f"; filename="plain"; '
        b"filename*=UTF-8''caf%C3%A9.txt\r\nContent-Type: text/plain\r\n\r\nx\r\n--"
        + BOUNDARY
        + b"--"
    )
    (start, *_) = parseIn(body, [])
    assert start.filename == "café.txt".encode()
    assert start.contentType == b"text/plain"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"--" + BOUNDARY + b"\r\n\r\nno name\r\n--" + BOUNDARY + b"--", "no name"),
        (
            b"--"
            + BOUNDARY
            + b'\r\nContent-Disposition: attachment; name="a"\r\n\r\nx\r\n--'
            + BOUNDARY
            + b"--",
            "not form-data",
        ),
        (b"--" + BOUNDARY + b"\r\nbroken header\r\n\r\nx\r\n--" + BOUNDARY + b"--", "Name: value"),
        (b"--" + BOUNDARY + b"Xjunk", "other than a line end"),
        (b"no delimiter anywhere", "ends before its closing boundary"),
        (build([(b"a", None, b"1")])[:-14], "ends before its closing boundary"),
    ],
)
def test_malformedBodiesSayWhatIsWrong(body: bytes, message: str) -> None:
    with pytest.raises(MultipartError, match=message):
        parseIn(body, [])


def test_headerBlockIsBounded() -> None:
    parser = MultipartParser(BOUNDARY, maxHeaderBytes=100)
    parser.feed(b"--" + BOUNDARY + b"\r\n")
    with pytest.raises(MultipartError, match="within 100 bytes"):
        for _ in range(10):
            parser.feed(b"X-Long: " + b"a" * 50)


def test_headerCountIsBounded() -> None:
    head = b"".join(b"X-%d: v\r\n" % i for i in range(5))
    body = b"--" + BOUNDARY + b"\r\n" + head + b'Content-Disposition: form-data; name="a"\r\n\r\n'
    with pytest.raises(MultipartError, match="more than 3 header lines"):
        parseIn(body + b"x\r\n--" + BOUNDARY + b"--", [], maxHeaderCount=3)


def test_partCountIsBounded() -> None:
    body = build([(b"a", None, b"1")] * 11)
    with pytest.raises(MultipartError, match="more than 10 parts"):
        parseIn(body, [], maxParts=10)


@pytest.mark.parametrize(
    "contentType",
    [
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b"multipart/form-data; boundary=" + b"b" * 71,
    ],
)
def test_missingOrOverlongBoundaryParameter(contentType: bytes) -> None:
    with pytest.raises(MultipartError, match="boundary"):
        boundaryOf(contentType)


def test_boundaryOfQuotedAndPlain() -> None:
    assert boundaryOf(b'multipart/form-data; boundary="a b"') == b"a b"
    assert boundaryOf(b"multipart/form-data; charset=utf-8; boundary=abc") == b"abc"


names = st.binary(min_size=1, max_size=8).filter(
    lambda b: b'"' not in b and b"\\" not in b and b"\r" not in b and b"\n" not in b
)
contents = st.binary(max_size=200).filter(lambda b: b"\r\n--" + BOUNDARY not in b)
formParts = st.lists(st.tuples(names, st.none() | names, contents), max_size=5)


@settings(max_examples=300, deadline=None)
@given(formParts, st.lists(st.integers(min_value=0, max_value=2000), max_size=8))
def test_sameEventsWhereverTheBodyIsCut(
    parts: list[tuple[bytes, bytes | None, bytes]], cuts: list[int]
) -> None:
    body = build(parts)
    cuts = [c % (len(body) + 1) for c in cuts]
    whole = parseIn(body, [])
    assert parseIn(body, cuts) == whole
    assert ([e for e in whole if isinstance(e, PartStart)] and True) or not parts
    found = parseMultipartParts(io.BytesIO(body), b"multipart/form-data; boundary=" + BOUNDARY)
    assert [(p.name, p.filename, p.content) for p in found] == parts


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=300), max_size=5))
def test_anyBytesParseOrRaiseMultipartError(junk: bytes, cuts: list[int]) -> None:
    for body in (junk, b"--" + BOUNDARY + b"\r\n" + junk, build([(b"a", None, junk)])[: len(junk)]):
        cuts = [c % (len(body) + 1) for c in cuts]
        try:
            whole = parseIn(body, [])
        except MultipartError:
            with pytest.raises(MultipartError):
                parseIn(body, cuts)
        else:
            assert parseIn(body, cuts) == whole


def test_bytesAfterTheEndAreIgnored() -> None:
    parser = MultipartParser(BOUNDARY)
    parser.feed(build([]))
    assert parser.feed(b"more epilogue") == []
    assert parser.close() == []
