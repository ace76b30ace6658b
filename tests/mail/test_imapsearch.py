"""SEARCH keys parsed and evaluated on messages (no sockets): flags, headers decoded from
RFC 2047, bodies decoded from their transfer encoding, dates, sizes, UID and sequence
sets, NOT/OR/lists, and str/bytes handled with CHARSET."""

from __future__ import annotations

import pytest

from tests.mail.imaphelpers import MULTIPART, SIMPLE
from torsion.mail._imapmailbox import SimpleMessage
from torsion.mail._imapparser import IllegalClientResponse, tokenize
from torsion.mail._imapsearch import SearchContext, parseSearch

QP = (
    b"Subject: plain\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve caf=E9\r\n"
)


def messages() -> list[SimpleMessage]:
    return [
        SimpleMessage(10, ["\\Seen"], "Tue, 01 Dec 2026 10:00:00 +0000", lambda: SIMPLE),
        SimpleMessage(
            11, ["\\Flagged", "\\Recent", "$Work"], "Wed, 02 Dec 2026 10:00:00 +0000",
            lambda: MULTIPART,
        ),
        SimpleMessage(20, ["\\Deleted"], "Thu, 03 Dec 2026 10:00:00 +0000", lambda: QP),
    ]  # fmt: skip


def search(query: bytes) -> list[int]:
    _, _, predicate = parseSearch(tokenize(query))
    found = messages()
    return [
        number
        for number, message in enumerate(found, 1)
        if predicate(SearchContext(number, message, len(found), 20))
    ]


@pytest.mark.parametrize(
    "query, expected",
    [
        (b"ALL", [1, 2, 3]),
        (b"SEEN", [1]),
        (b"UNSEEN", [2, 3]),
        (b"FLAGGED DELETED", []),
        (b"OR FLAGGED DELETED", [2, 3]),
        (b"NOT DELETED", [1, 2]),
        (b"(NOT SEEN) (NOT DELETED)", [2]),
        (b"NEW", [2]),
        (b"OLD", [1, 3]),
        (b"KEYWORD $work", [2]),
        (b"UNKEYWORD $Work", [1, 3]),
        (b'SUBJECT "GR\xc3\x9c\xc3\x9fE"', [1]),
        (b"CHARSET UTF-8 SUBJECT {6}\r\ngr\xc3\xbc\xc3\x9f", [1]),
        (b'FROM "alice example"', [1]),
        (b"FROM alice", [1, 2]),
        (b"TO carol", [1]),
        (b"CC carol", []),
        (b'HEADER Message-ID "<1@"', [1]),
        (b'HEADER "content-transfer-encoding" ""', [3]),
        (b"BODY caf\xc3\xa9", [2, 3]),
        (b'BODY "na\xc3\xafve"', [3]),
        (b"TEXT report", [2]),
        (b"SINCE 2-Dec-2026", [2, 3]),
        (b"BEFORE 2-Dec-2026", [1]),
        (b"ON 3-dec-2026", [3]),
        (b"SENTON 2-Dec-2026", [2]),
        (b"SENTSINCE 1-Jan-2030", []),
        (b"LARGER 300", [2]),
        (b"SMALLER 200", [3]),
        (b"UID 11:*", [2, 3]),
        (b"UID 1:10", [1]),
        (b"2:*", [2, 3]),
        (b"1,3 UNSEEN", [3]),
        (b"*", [3]),
    ],
)
def test_searchKeys(query: bytes, expected: list[int]) -> None:
    assert search(query) == expected


def test_iso88591Charset() -> None:
    assert search(b"CHARSET ISO-8859-1 BODY caf\xe9") == [2, 3]


def test_unknownCharsetIsALookupError() -> None:
    with pytest.raises(LookupError):
        parseSearch(tokenize(b"CHARSET X-NOPE ALL"))


@pytest.mark.parametrize(
    "query",
    [b"", b"BOGUS", b"SINCE yesterday", b"SINCE 40-Feb-2026", b"LARGER x", b"SUBJECT",
     b"OR SEEN", b'"ALL"', b"UID x", b"NOT"],
)  # fmt: skip
def test_badQueries(query: bytes) -> None:
    with pytest.raises(IllegalClientResponse):
        parseSearch(tokenize(query))


def test_tooManyKeysRefused() -> None:
    with pytest.raises(IllegalClientResponse, match="too many"):
        parseSearch(tokenize(b"SEEN " * 2000))


def test_deepNestingRefused() -> None:
    with pytest.raises(IllegalClientResponse, match="nested too deeply"):
        parseSearch(tokenize(b"NOT " * 200 + b"ALL"))
