"""FETCH items parsed and rendered: sections, partials, ENVELOPE, BODYSTRUCTURE, and the
MIME parts they are cut from (no sockets)."""

from __future__ import annotations

import pytest

from tests.mail.imaphelpers import MULTIPART, SIMPLE
from torsion.mail._imapfetch import (
    FetchAtt,
    bodyStructure,
    envelope,
    internalDate,
    nstring,
    parseFetchAtts,
    quoted,
    sectionData,
)
from torsion.mail._imapmime import MessagePart, toCRLF
from torsion.mail._imapparser import IllegalClientResponse, tokenize

NESTED = (
    b"From: a@example.com\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"first\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"From: b@example.com\r\n"
    b"\r\n"
    b"inner body\r\n"
    b"--outer--\r\n"
)


def atts(text: bytes) -> list[FetchAtt]:
    return parseFetchAtts(tokenize(text))


def test_macrosExpand() -> None:
    assert [a.name for a in atts(b"FAST")] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    assert [a.name for a in atts(b"full")][-1] == "BODY"


def test_sectionsAndPartials() -> None:
    (peek, body) = atts(b"(BODY.PEEK[1.2.MIME] body[HEADER.FIELDS.NOT (To cc)]<10.20>)")
    assert (peek.section, peek.text, peek.peek, peek.setsSeen) == ((1, 2), "MIME", True, False)
    assert body.fields == ("TO", "CC") and body.partial == (10, 20) and body.setsSeen
    assert body.label() == b"BODY[HEADER.FIELDS.NOT (TO CC)]<10>"
    assert atts(b"BODY[]")[0].label() == b"BODY[]"


@pytest.mark.parametrize(
    "text",
    [b"FOO", b"(ALL)", b"BODY[MIME]", b"BODY[1HEADER]", b"BODY[HEADER.FIELDS]", b"BODY[XYZ]",
     b'"FLAGS"', b"()", b"FLAGS UID"],
)  # fmt: skip
def test_badFetchItems(text: bytes) -> None:
    with pytest.raises(IllegalClientResponse):
        atts(text)


def section(message: bytes, spec: bytes) -> bytes | None:
    return sectionData(MessagePart(message), atts(b"BODY[" + spec + b"]")[0])


def test_sectionData() -> None:
    assert section(SIMPLE, b"") == SIMPLE
    assert section(SIMPLE, b"TEXT") == b"Hello Bob,\r\nthis is the body.\r\n"
    assert section(SIMPLE, b"1") == b"Hello Bob,\r\nthis is the body.\r\n"
    assert section(SIMPLE, b"HEADER").endswith(b"<1@example.com>\r\n\r\n")  # type: ignore[union-attr]
    assert section(SIMPLE, b"HEADER.FIELDS (subject MESSAGE-ID)") == (
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Alice\r\nMessage-ID: <1@example.com>\r\n\r\n"
    )
    notTo = section(SIMPLE, b"HEADER.FIELDS.NOT (To From Date Message-ID)")
    assert notTo == b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Alice\r\n\r\n"
    assert section(MULTIPART, b"1") == b"Caf\xc3\xa9 au lait"
    assert section(MULTIPART, b"2") == b"AAECAwQ="
    assert section(MULTIPART, b"2.MIME").startswith(b"Content-Type: application/octet-stream")  # type: ignore[union-attr]
    assert section(MULTIPART, b"3") is None
    assert section(MULTIPART, b"1.HEADER") is None


def test_sectionsOfAnEncapsulatedMessage() -> None:
    assert section(NESTED, b"2.HEADER") == b"Subject: inner\r\nFrom: b@example.com\r\n\r\n"
    assert section(NESTED, b"2.TEXT") == b"inner body"
    assert section(NESTED, b"2.1") == b"inner body"
    assert section(NESTED, b"2").startswith(b"Subject: inner")  # type: ignore[union-attr]


def test_foldedHeadersAreUnfolded() -> None:
    part = MessagePart(b"Subject: a\r\n  long one\r\nX: y\r\n\r\nbody")
    assert part.getHeaders(False, "subject") == {"subject": "a long one"}
    assert part.getHeaders(True, "subject") == {"x": "y"}
    assert section(b"Subject: a\r\n  long one\r\nX: y\r\n\r\nbody", b"HEADER.FIELDS (SUBJECT)") == (
        b"Subject: a\r\n  long one\r\n\r\n"
    )


def test_messageWithoutBodyOrHeaders() -> None:
    assert MessagePart(b"Subject: x").getBodyFile().read() == b""
    assert MessagePart(b"\r\nonly body").getHeaders(False) == {}
    assert MessagePart(b"").getSize() == 0


def test_toCRLF() -> None:
    assert toCRLF(b"a\nb\r\nc\rd") == b"a\r\nb\r\nc\r\nd"


def test_envelope() -> None:
    assert envelope(MessagePart(SIMPLE)) == (
        b'("Tue, 01 Dec 2026 10:00:00 +0000" "=?utf-8?q?Gr=C3=BC=C3=9Fe?= from Alice" '
        b'(("Alice Example" NIL "alice" "example.com")) '
        b'(("Alice Example" NIL "alice" "example.com")) '
        b'(("Alice Example" NIL "alice" "example.com")) '
        b'((NIL NIL "bob" "example.org")("Carol" NIL "carol" "example.net")) '
        b'NIL NIL NIL "<1@example.com>")'
    )
    assert envelope(MessagePart(b"\r\n")) == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"


def test_bodyStructure() -> None:
    assert bodyStructure(MessagePart(SIMPLE), extended=False) == (
        b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 31 2)'
    )
    assert bodyStructure(MessagePart(MULTIPART)) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 13 1 NIL NIL NIL NIL)'
        b'("APPLICATION" "OCTET-STREAM" NIL NIL NIL "BASE64" 8 NIL '
        b'("ATTACHMENT" ("FILENAME" "data.bin")) NIL NIL) '
        b'"MIXED" ("BOUNDARY" "XYZ") NIL NIL NIL)'
    )
    nested = bodyStructure(MessagePart(NESTED), extended=False)
    assert b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 49 (NIL "inner"' in nested
    assert b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 1) 4)' in nested


def test_deeplyNestedMultipartIsBounded() -> None:
    message = b""
    for depth in range(60):
        message = (
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (depth, depth)
            + message
            + b"\r\n--b%d--\r\n" % depth
        )
    assert bodyStructure(MessagePart(message)).startswith(b"((")


def test_quoting() -> None:
    assert quoted('a"b\\c') == b'"a\\"b\\\\c"'
    assert quoted(b"caf\xc3\xa9") == b"{5}\r\ncaf\xc3\xa9"
    assert quoted("two\r\nlines") == b"{10}\r\ntwo\r\nlines"
    assert nstring(None) == b"NIL"


def test_internalDate() -> None:
    assert internalDate("Tue, 01 Dec 2026 10:00:00 -0730") == b'"01-Dec-2026 10:00:00 -0730"'
    assert internalDate("garbage") == b'"01-Jan-1970 00:00:00 +0000"'
