"""Random input to the server and to the article checker (hypothesis): every reply is a
well-formed status line or block, nothing escapes as an exception, and the session
still answers afterwards."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torsion.internet import task
from torsion.internet.testing import StringTransport
from torsion.news.database import Article, NewsSpool, PostingError
from torsion.news.news import NNTPFactory

_SPOOL = NewsSpool(Path(tempfile.mkdtemp(prefix="nntpfuzz-")))
_SPOOL.addGroup("local.talk")
_SPOOL.postArticle(b"From: a@b.c\r\nNewsgroups: local.talk\r\nSubject: s\r\n\r\nbody\r\n")

VERBS = [
    b"ARTICLE",
    b"HEAD",
    b"BODY",
    b"STAT",
    b"GROUP",
    b"LISTGROUP",
    b"LIST",
    b"NEXT",
    b"LAST",
    b"OVER",
    b"XOVER",
    b"HDR",
    b"XHDR",
    b"NEWNEWS",
    b"NEWGROUPS",
    b"MODE",
    b"CAPABILITIES",
    b"DATE",
    b"HELP",
    b"AUTHINFO",
    b"POST",
]
words = st.one_of(
    st.sampled_from(
        [
            b"1",
            b"1-",
            b"0-9",
            b"local.talk",
            b"<a@b>",
            b"*",
            b"20260101",
            b"000000",
            b"GMT",
            b"READER",
            b"ACTIVE",
            b"OVERVIEW.FMT",
            b"Subject",
        ]
    ),
    st.binary(max_size=12),
)
lines = st.builds(
    lambda verb, args: b" ".join([verb, *args]),
    st.sampled_from(VERBS) | st.binary(max_size=10),
    st.lists(words, max_size=4),
)

_STATUS = re.compile(rb"[1-5][0-9][0-9] ")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=12), st.integers(min_value=1, max_value=50))
def test_randomCommandsGetWellFormedReplies(commands: list[bytes], cut: int) -> None:
    transport = StringTransport()
    server = NNTPFactory(_SPOOL, reactor=task.Clock(), postingAllowed=False).buildProtocol(None)
    server.makeConnection(transport)
    data = b"".join(line.replace(b"\n", b"") + b"\r\n" for line in commands)
    for start in range(0, len(data), cut):
        server.dataReceived(data[start : start + cut])
    if transport.disconnecting:
        return
    transport.clear()
    server.dataReceived(b"\r\n.\r\nDATE\r\n")
    assert transport.value().endswith(b"\r\n") and b"\r\n111 " in b"\r\n" + transport.value()


@settings(max_examples=100, deadline=None)
@given(st.lists(lines, max_size=12))
def test_everyReplyStartsWithAStatusLine(commands: list[bytes]) -> None:
    transport = StringTransport()
    server = NNTPFactory(_SPOOL, reactor=task.Clock(), postingAllowed=False).buildProtocol(None)
    server.makeConnection(transport)
    transport.clear()
    for line in commands:
        line = line.replace(b"\r", b"").replace(b"\n", b"")
        server.dataReceived(line + b"\r\n")
        reply = transport.value()
        transport.clear()
        if transport.disconnecting:
            break
        assert _STATUS.match(reply), (line, reply[:80])
        code = reply[:3]
        if code in (
            b"100",
            b"101",
            b"211",
            b"215",
            b"220",
            b"221",
            b"222",
            b"224",
            b"225",
            b"230",
            b"231",
        ) and not line.upper().startswith(b"GROUP"):
            assert reply.endswith(b"\r\n.\r\n"), (line, reply[-40:])
        else:
            assert reply.count(b"\r\n") == 1, (line, reply[:200])


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_anyBytesAreAnArticleOrARefusal(data: bytes) -> None:
    posted = b"From: a@b.c\r\nNewsgroups: x\r\nSubject: s\r\n" + data
    try:
        article = Article.fromBytes(posted)
    except PostingError:
        return
    again = Article.fromBytes(article.raw)
    assert again.messageId == article.messageId
    assert again.getHeader("Subject") == article.getHeader("Subject")
