"""``torsiond news``'s options (torsion/news/tap.py) and a login through ``--auth``,
with nntplib against the server run as a child process."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from tests.tap._torsiond import freePort, runTorsiond
from torsion.application.service import IServiceMaker
from torsion.news import tap
from torsion.plugin import getPlugins
from torsion.python import usage


def parse(*args: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(args))
    return options


def test_pluginIsFound() -> None:
    (maker,) = [p for p in getPlugins(IServiceMaker) if p.tapname == "news"]
    assert maker.options is tap.Options


def test_defaults() -> None:
    options = parse()
    assert options["listen"] == [tap.DEFAULT_LISTEN]
    assert options["spool"] == "news-spool" and options["groups"] == []
    assert options["auth-required"] == "post" and not options["read-only"]


def test_twistedNamesAndGroups() -> None:
    options = parse("--port", "1190", "--datadir", "db", "--group", "Local.Talk=Chat here")
    assert options["listen"] == ["tcp:1190:interface=127.0.0.1"]
    assert options["spool"] == "db" and options["groups"] == [("local.talk", "Chat here")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nonsense:1"], "--listen 'nonsense:1'"),
        (["--group", "bad name"], "--group 'bad name'"),
        (["--auth-required", "sometimes"], "give 'post' or 'all'"),
        (["--max-article-size", "0"], "positive whole number"),
        (["--idle-timeout", "soon"], "positive whole number"),
    ],
)
def test_mistakesAreUsageErrors(args: list[str], message: str) -> None:
    with pytest.raises(usage.UsageError, match=message):
        parse(*args)


def test_makeServiceFillsTheSpool(tmp_path: Path) -> None:
    options = parse("--spool", str(tmp_path / "s"), "--group", "a.b=Desc", "--read-only")
    made = tap.makeService(options)
    assert len(list(made)) == 1  # type: ignore[call-overload]
    from torsion.news.database import NewsSpool

    group = NewsSpool(tmp_path / "s").group("a.b")
    assert group is not None and group.description == "Desc"


def test_aSpoolThatIsAFileIsAUsageError(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(usage.UsageError, match="--spool"):
        tap.makeService(parse("--spool", str(tmp_path / "file")))


def test_postingNeedsALoginWithAuth(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        nntplib = pytest.importorskip("nntplib", reason="nntplib is gone (Python 3.13+)")
    port = freePort()
    args = ["news", "--listen", f"tcp:{port}:interface=127.0.0.1", "--spool", "spool"]
    args += ["--group", "local.talk", "--auth", "memory:ada:s3cret"]
    article = b"From: ada@b.c\r\nNewsgroups: local.talk\r\nSubject: hi\r\n\r\nbody\r\n"
    with runTorsiond(args, port, tmp_path):
        with (
            nntplib.NNTP("127.0.0.1", port, timeout=10) as news,
            pytest.raises(nntplib.NNTPTemporaryError, match=r"^480"),
        ):
            news.post(article)
        with pytest.raises(nntplib.NNTPTemporaryError, match=r"^481"):
            nntplib.NNTP("127.0.0.1", port, user="ada", password="wrong", timeout=10)
        with nntplib.NNTP("127.0.0.1", port, user="ada", password="s3cret", timeout=10) as news:
            assert news.post(article).startswith("240")
            assert news.group("local.talk")[1] == 1


def test_theServiceCanBeSaved(tmp_path: Path) -> None:
    """``torsion mktap news`` pickles what makeService made; it must load again."""
    import pickle

    options = parse("--spool", str(tmp_path / "s"), "--group", "a.b", "--auth", "memory:x:y")
    loaded = pickle.loads(pickle.dumps(tap.makeService(options)))
    (listening,) = list(loaded)
    factory = listening.factory
    assert factory.storage.group("a.b") is not None
    assert factory.authRequired == "post"
