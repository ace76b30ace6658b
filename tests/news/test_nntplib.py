"""Python's nntplib, a client nobody here wrote, against ``torsiond news`` run as a child.

nntplib is deprecated (removed in Python 3.13): the tests skip where it is gone, and
silence its DeprecationWarning here only.
"""

from __future__ import annotations

import datetime
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tap._torsiond import freePort, runTorsiond

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    nntplib = pytest.importorskip("nntplib", reason="nntplib is gone (Python 3.13+)")

ARTICLE = (
    b"From: Ada <ada@example.org>\r\n"
    b"Newsgroups: local.talk\r\n"
    b"Subject: first post\r\n"
    b"\r\n"
    b"Hello, news.\r\n"
    b".a line that starts with a dot\r\n"
    b"..and one with two\r\n"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path, list[str]]]:
    port = freePort()
    output: list[str] = []
    args = ["news", "--listen", f"tcp:{port}:interface=127.0.0.1", "--spool", "spool"]
    args += ["--group", "local.talk=Talk about anything", "--group", "local.test"]
    with runTorsiond(args, port, tmp_path, output):
        yield port, tmp_path, output


def connect(port: int) -> nntplib.NNTP:
    return nntplib.NNTP("127.0.0.1", port, readermode=True, timeout=10)


def test_nntplibPostsAndReadsArticles(server: tuple[int, Path, list[str]]) -> None:
    port, _, _ = server
    with connect(port) as news:
        assert news.getwelcome().startswith("200")
        caps = news.getcapabilities()
        assert "READER" in caps and "POST" in caps and "OVER" in caps
        response = news.post(ARTICLE)
        assert response.startswith("240")
        news.post(
            b"From: Bob <bob@example.org>\r\nNewsgroups: local.talk,local.test\r\n"
            b"Subject: Re: first post\r\nMessage-ID: <reply-1@example.org>\r\n"
            b"References: <whatever@example.org>\r\n\r\nA reply, crossposted.\r\n"
        )

        _, groups = news.list()
        active = {g.group: (int(g.last), int(g.first), g.flag) for g in groups}
        assert active == {"local.talk": (2, 1, "y"), "local.test": (1, 1, "y")}
        assert news.description("local.talk") == "Talk about anything"

        _, count, first, last, name = news.group("local.talk")
        assert (count, first, last, name) == (2, 1, 2, "local.talk")
        _, info = news.article(1)
        lines = info.lines
        assert b"Hello, news." in lines
        assert b".a line that starts with a dot" in lines
        assert b"..and one with two" in lines
        headers = dict(line.split(b": ", 1) for line in lines[: lines.index(b"")])
        assert headers[b"Subject"] == b"first post"
        messageId = headers[b"Message-ID"].decode()
        assert messageId.startswith("<") and messageId.endswith(">")
        assert b"Date" in headers and b"Path" in headers

        _, head = news.head(messageId)
        assert head.number == 0 and head.message_id == messageId
        _, body = news.body(2)
        assert body.lines == [b"A reply, crossposted."]
        assert news.stat()[1:] == (2, "<reply-1@example.org>")
        assert news.last()[1:] == (1, messageId)
        assert news.next()[1:] == (2, "<reply-1@example.org>")

        _, overviews = news.over((1, 2))
        assert [number for number, _ in overviews] == [1, 2]
        over = dict(overviews)
        assert over[1]["subject"] == "first post"
        assert over[2]["references"] == "<whatever@example.org>"
        assert int(over[1][":lines"]) == 3
        _, xover = news.xover(1, 1)
        assert xover[0][1]["message-id"] == messageId
        _, subjects = news.xhdr("subject", "1-2")
        assert subjects == [("1", "first post"), ("2", "Re: first post")]

        since = datetime.datetime.now() - datetime.timedelta(minutes=5)
        _, ids = news.newnews("local.*", since)
        assert sorted(ids) == sorted([messageId, "<reply-1@example.org>"])
        _, ids = news.newnews("local.test", since)
        assert ids == ["<reply-1@example.org>"]
        _, none = news.newnews("*", datetime.datetime.now() + datetime.timedelta(hours=1))
        assert none == []
        _, newGroups = news.newgroups(since)
        assert sorted(g.group for g in newGroups) == ["local.talk", "local.test"]
        _, serverTime = news.date()
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        assert abs(serverTime - now) < datetime.timedelta(minutes=1)


def test_refusedPostsGet441AndNothingIsStored(server: tuple[int, Path, list[str]]) -> None:
    port, _, _ = server
    with connect(port) as news:
        bad = [
            b"Newsgroups: local.talk\r\nSubject: no sender\r\n\r\nbody\r\n",
            b"From: a@b.c\r\nNewsgroups: no.such.group\r\nSubject: x\r\n\r\nbody\r\n",
            b"From: a@b.c\r\nNewsgroups: local.talk\r\nSubject: x\r\n"
            b"Message-ID: not-an-id\r\n\r\nbody\r\n",
            b"From: a@b.c\r\nNewsgroups: local.talk\r\nSubject: long\r\n\r\n" + b"x" * 2000,
        ]
        for article in bad:
            with pytest.raises(nntplib.NNTPTemporaryError, match=r"^441"):
                news.post(article)
        _, count, _, _, _ = news.group("local.talk")
        assert count == 0
        # A second post with a Message-ID already here is a duplicate.
        article = (
            b"From: a@b.c\r\nNewsgroups: local.talk\r\nSubject: x\r\nMessage-ID: <d@x>\r\n\r\nb\r\n"
        )
        news.post(article)
        with pytest.raises(nntplib.NNTPTemporaryError, match=r"^441.*duplicate"):
            news.post(article)


def test_malformedCommandsGetErrorsAndTheServerGoesOn(server: tuple[int, Path, list[str]]) -> None:
    port, _, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        stream = raw.makefile("rwb")
        assert stream.readline().startswith(b"200")
        exchanges = [
            (b"FROBNICATE\r\n", b"500"),
            (b"GROUP\r\n", b"501"),
            (b"GROUP a b c\r\n", b"501"),
            (b"ARTICLE 1\r\n", b"412"),
            (b"GROUP no.such\r\n", b"411"),
            (b"GROUP local.talk\r\n", b"211"),
            (b"ARTICLE 99\r\n", b"423"),
            (b"ARTICLE <nobody@here>\r\n", b"430"),
            (b"ARTICLE <bad\r\n", b"501"),
            (b"OVER 5-x\r\n", b"501"),
            (b"NEWNEWS * 2026 120000\r\n", b"501"),
            (b"NEWGROUPS 20261399 120000\r\n", b"501"),
            (b"LIST FOO\r\n", b"501"),
            (b"LIST ACTIVE [x]\r\n", b"501"),
            (b"MODE STREAM\r\n", b"501"),
            (b"AUTHINFO USER x\r\n", b"503"),
            (b"\xff\xfe\r\n", b"501"),
            (b"GROUP " + b"x" * 2000 + b"\r\n", b"501"),
            (b"NEXT\r\n", b"420"),
            (b"DATE\r\n", b"111"),
        ]
        for command, expected in exchanges:
            stream.write(command)
            stream.flush()
            reply = stream.readline()
            assert reply.startswith(expected), (command[:40], reply)
        # Another client is served all along.
        with connect(port) as other:
            assert other.group("local.talk")[1] == 0
        stream.write(b"QUIT\r\n")
        stream.flush()
        assert stream.readline().startswith(b"205")
        assert stream.readline() == b""


def test_articlesSurviveARestart(tmp_path: Path) -> None:
    port = freePort()
    args = ["news", "--listen", f"tcp:{port}:interface=127.0.0.1", "--spool", "spool"]
    with runTorsiond([*args, "--group", "local.talk"], port, tmp_path), connect(port) as news:
        news.post(ARTICLE)
        news.post(ARTICLE.replace(b"first post", b"second post"))
    with runTorsiond(args, port, tmp_path), connect(port) as news:
        assert news.group("local.talk")[1:4] == (2, 1, 2)
        _, overviews = news.over((1, 2))
        assert [o["subject"] for _, o in overviews] == ["first post", "second post"]
        _, info = news.body(2)
        assert info.lines[0] == b"Hello, news."
        news.post(ARTICLE.replace(b"first post", b"third"))
        assert news.group("local.talk")[1:4] == (3, 1, 3)
