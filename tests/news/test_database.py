"""NewsSpool on disk: articles checked, stored atomically, indexed, and found again
after a restart, a crash in the middle of an append, or a missing file."""

from __future__ import annotations

from pathlib import Path

import pytest

from torsion.news.database import Article, NewsSpool, PostingError

ARTICLE = b"From: a@b.c\r\nNewsgroups: local.talk\r\nSubject: s\r\n\r\nbody\r\n"


def spoolAt(path: Path, now: list[float] | None = None) -> NewsSpool:
    clock = (lambda: now[0]) if now is not None else (lambda: 1_000_000.0)
    made = NewsSpool(path, hostname="news.example", clock=clock)
    made.addGroup("local.talk", "Talk")
    return made


def test_whatIsMissingIsFilledIn() -> None:
    article = Article.fromBytes(b"From: a@b.c\nNewsgroups: x\nSubject: s\n\nbody\n", "h.example")
    assert article.messageId.endswith("@h.example>")
    assert article.getHeader("date") and article.getHeader("Path") == "h.example!not-for-mail"
    assert article.raw.endswith(b"Subject: s\r\n\r\nbody\r\n")
    assert article.bodyLines == 1


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"Newsgroups: x\r\nSubject: s\r\n\r\nb\r\n", "no From"),
        (b"From: a\r\nNewsgroups: x\r\n\r\nb\r\n", "no Subject"),
        (b"From: a\r\nSubject: s\r\n\r\nb\r\n", "no Newsgroups"),
        (b"From: a\r\nFrom: b\r\nNewsgroups: x\r\nSubject: s\r\n\r\n", "more than one from"),
        (b"From: \r\nNewsgroups: x\r\nSubject: s\r\n\r\n", "from header is empty"),
        (b" folded\r\nFrom: a\r\nNewsgroups: x\r\nSubject: s\r\n\r\n", "continuation"),
        (b"From a\r\nNewsgroups: x\r\nSubject: s\r\n\r\n", "bad header"),
        (b"From: \xff\r\nNewsgroups: x\r\nSubject: s\r\n\r\n", "not UTF-8"),
        (b"From: a\r\nNewsgroups: x\r\nSubject: s\r\nDate: someday\r\n\r\n", "not a date"),
        (b"From: a\r\nNewsgroups: x\r\nSubject: s\r\nMessage-ID: <a b@c>\r\n\r\n", "message-id"),
        (b"From: a\r\nNewsgroups: x\r\nSubject: " + b"s" * 1000 + b"\r\n\r\n", "998"),
    ],
)
def test_malformedArticlesAreRefused(data: bytes, why: str) -> None:
    with pytest.raises(PostingError, match=why):
        Article.fromBytes(data)


def test_tooManyHeadersAreRefused() -> None:
    data = b"From: a\r\nNewsgroups: x\r\nSubject: s\r\n" + b"X-A: 1\r\n" * 300 + b"\r\n"
    with pytest.raises(PostingError, match="more than 200 header lines"):
        Article.fromBytes(data)


def test_postedArticlesAreFiledInEveryNamedGroup(tmp_path: Path) -> None:
    spool = spoolAt(tmp_path)
    spool.addGroup("local.other")
    spool.postArticle(ARTICLE)
    crossposted = spool.postArticle(
        ARTICLE.replace(b"local.talk", b"Local.Talk, unknown.group,local.other")
    )
    assert spool.placesOf(crossposted.messageId) == [("local.talk", 2), ("local.other", 1)]
    talk = spool.group("local.talk")
    assert talk is not None and (talk.count, talk.low, talk.highest) == (2, 1, 2)
    again = spool.articleByNumber("local.other", 1)
    assert again is not None and again.raw == crossposted.raw
    assert spool.articleByNumber("local.other", 2) is None
    with pytest.raises(PostingError, match="no newsgroup of this server"):
        spool.postArticle(ARTICLE.replace(b"local.talk", b"elsewhere"))


def test_theSpoolSurvivesARestart(tmp_path: Path) -> None:
    spool = spoolAt(tmp_path)
    first = spool.postArticle(ARTICLE)
    spool.postArticle(ARTICLE.replace(b"Subject: s", b"Subject: two"))
    reopened = NewsSpool(tmp_path)
    group = reopened.group("local.talk")
    assert group is not None and group.description == "Talk" and group.numbers == [1, 2]
    assert group.entries[2].subject == "two"
    again = reopened.articleByMessageId(first.messageId)
    assert again is not None and again.raw == first.raw
    assert again.getHeader("Subject") == "s"
    with pytest.raises(PostingError, match="duplicate"):
        reopened.postArticle(first.raw)
    assert reopened.postArticle(ARTICLE).messageId != first.messageId
    assert reopened.group("local.talk").numbers == [1, 2, 3]  # type: ignore[union-attr]


def test_aLineCutShortByACrashIsDropped(tmp_path: Path) -> None:
    spool = spoolAt(tmp_path)
    spool.postArticle(ARTICLE)
    spool.postArticle(ARTICLE)
    index = tmp_path / "overview" / "local.talk"
    data = index.read_bytes()
    index.write_bytes(data[:-10])  # the second append was cut short
    reopened = NewsSpool(tmp_path)
    assert reopened.group("local.talk").numbers == [1]  # type: ignore[union-attr]
    assert index.read_bytes().endswith(b"\n")
    # The next article gets number 2 again: the cut one was never served.
    reopened.postArticle(ARTICLE)
    assert reopened.group("local.talk").numbers == [1, 2]  # type: ignore[union-attr]
    assert len(NewsSpool(tmp_path).group("local.talk").numbers) == 2  # type: ignore[union-attr]


def test_noTemporaryFilesAreLeft(tmp_path: Path) -> None:
    spool = spoolAt(tmp_path)
    spool.postArticle(ARTICLE)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_aMissingArticleFileIsNotServed(tmp_path: Path) -> None:
    spool = spoolAt(tmp_path)
    article = spool.postArticle(ARTICLE)
    spool._articlePath(article.messageId).unlink()
    assert spool.articleByNumber("local.talk", 1) is None


def test_newNewsAndNewGroupsGoByArrivalTime(tmp_path: Path) -> None:
    now = [100.0]
    spool = spoolAt(tmp_path, now)
    early = spool.postArticle(ARTICLE)
    now[0] = 200.0
    spool.addGroup("local.later")
    late = spool.postArticle(ARTICLE.replace(b"local.talk", b"local.talk,local.later"))
    every = lambda name: True  # noqa: E731
    assert spool.newNews(every, 150) == [late.messageId]
    assert sorted(spool.newNews(every, 0)) == sorted([early.messageId, late.messageId])
    assert [g.name for g in spool.newGroups(150)] == ["local.later"]


@pytest.mark.parametrize("name", ["", "UPPER space", ".lead", "trail.", "a..b", "a*b", "x" * 201])
def test_badGroupNamesAreRefused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a newsgroup name"):
        NewsSpool(tmp_path).addGroup(name)


def test_anUnreadableGroupListIsAClearError(tmp_path: Path) -> None:
    (tmp_path / "active").write_text("{not json")
    with pytest.raises(OSError, match="unreadable group list"):
        NewsSpool(tmp_path)
